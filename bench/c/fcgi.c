/* The C FastCGI responder on libfcgi's reentrant FCGX_* API: the same loop as
 * chathooks' (init, then accept -> handle -> finish), on the listening socket
 * at fd 0 that spawn-fcgi hands over. */
#include "hook.h"

#include <fcgiapp.h>
#include <signal.h>
#include <string.h>

/* SIGTERM ends the wait for the next request (as chathooks does). */
static volatile sig_atomic_t stop_requested;

static void on_term(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char *param(void *ctx, const char *name) {
    return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static long read_stream(void *ctx, char *buf, size_t n) {
    return FCGX_GetStr(buf, (int)n, ((FCGX_Request *)ctx)->in);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    struct sigaction term;
    memset(&term, 0, sizeof term);
    term.sa_handler = on_term; /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGTERM, &term, NULL);
    struct hook_settings s;
    hook_settings_load(&s);
    if (FCGX_Init() != 0) return 1;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) return 1;
    char out[1024], scratch[65536];
    while (!stop_requested && FCGX_Accept_r(&req) >= 0) {
        size_t n = hook_handle(&s, param, &req, read_stream, &req, out, sizeof out);
        FCGX_PutStr(out, (int)n, req.out);
        /* Drain what is left of a body that was refused unread. */
        while (FCGX_GetStr(scratch, sizeof scratch, req.in) > 0) {}
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return 0;
}
