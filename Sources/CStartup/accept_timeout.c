/*
 * A time limit on every FastCGI connection, set before libfcgi reads from it.
 *
 * libfcgi's FCGX_Accept_r accepts a connection and then reads the request's
 * BEGIN_REQUEST and PARAMS records itself, with blocking reads and no time
 * limit. A peer that connects and then sends nothing (or stops half-way)
 * would hold the process forever: another client gets no answer from it.
 * There is no hook between libfcgi's accept() and its first read, so the
 * release link (Package.swift) passes `--wrap=accept`: libfcgi's call to
 * accept() comes here, and the new socket gets SO_RCVTIMEO and SO_SNDTIMEO
 * before libfcgi touches it. A stalled read then fails with EAGAIN, libfcgi
 * drops that connection (or our body reader answers 400), and the process
 * takes the next one.
 *
 * The limit is per read and per write, not for the whole request: a peer
 * that trickles a byte just inside each limit can still hold the process
 * for as long as it keeps that up. Only the web server can reach the socket,
 * and nginx with request buffering on (the shipped configs) sends a request
 * whole, so this guards against a broken or stalled peer, not a slow one.
 *
 * Only libfcgi's references are wrapped (static link); the real call is made
 * through accept4(), which is not wrapped, so no __real_accept is needed and a
 * link without the flag (the unit tests) still links.
 */
#define _GNU_SOURCE /* accept4 */
#include "CStartup.h"

#include <sys/socket.h>
#include <sys/time.h>

static int timeout_seconds;  /* 0: no limit (CGI, or not yet configured) */

void chathooks_set_connection_timeout(int seconds) {
    timeout_seconds = seconds > 0 ? seconds : 0;
}

int __wrap_accept(int fd, struct sockaddr *address, socklen_t *length) {
    int accepted = accept4(fd, address, length, 0);
    if (accepted >= 0 && timeout_seconds > 0) {
        struct timeval limit = { .tv_sec = timeout_seconds, .tv_usec = 0 };
        (void)setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        (void)setsockopt(accepted, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    }
    return accepted;
}
