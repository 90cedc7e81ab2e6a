"""A FastCGI peer that connects and then stalls costs seconds, not the
process (issue #9): libfcgi reads a request's header records with no time
limit of its own, so each accepted connection gets one (SO_RCVTIMEO and
SO_SNDTIMEO, CHATHOOKS_FASTCGI_TIMEOUT seconds). One process, so a stalled
peer that held it would leave every other client without an answer."""
import json
import os
import socket
import struct

import pytest

from itkit import TOKEN, running, sample
from fastcgi_wire import BEGIN_REQUEST, PARAMS, RESPONDER, Conversation, name_value, record
from stack import Stack, find, wait_for_path

MAX_WAIT = 30  # seconds: how long a client waits for its answer (the limit under test is 2 s)


class OneFastCGIProcess(Stack):
    timeout = "2"  # seconds: long enough for a valid request on a loaded machine

    """The multi-call `chathooks`, one FastCGI process under spawn-fcgi, with
    a short connection time limit."""

    def start(self):
        sock = self.site.root / "sock" / "chathooks.sock"
        argv = [find("spawn-fcgi"), "-n", "-s", str(sock), "-M", "0660"]
        if self.site.user:
            argv += ["-u", self.site.user.pw_name, "-g", self.site.user.pw_name]
        env = {"PATH": "/usr/bin:/bin", "CHATHOOKS_FASTCGI_TIMEOUT": self.timeout, "TZ": "JST-9"}
        self.proc, log = self.spawn(argv + ["--", str(self.site.bin_dir / "chathooks")], "spawn-fcgi.log", env=env)
        wait_for_path(sock, self.proc, log)
        self.sock = sock
        return self


@pytest.fixture
def stack():
    with running(OneFastCGIProcess) as s:
        yield s


def params(stack, body):
    return {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/hooks/chatdealer/chat-start", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "CHATHOOKS_CONFIG": str(stack.site.config_path),
            "HTTP_X_CHATHOOKS_TOKEN": TOKEN, "REMOTE_ADDR": "127.0.0.1"}


def whole_request(stack):
    body = json.dumps(sample("chatdealer-chat-start")).encode()
    talk = Conversation(stack.sock, params(stack, body), timeout=MAX_WAIT)
    talk.send_body(body, last=True)
    return talk.answer()


def test_a_peer_that_stalls_in_its_header_records_does_not_hold_the_process(stack):
    # BEGIN_REQUEST, then half a PARAMS record, then nothing: libfcgi is
    # inside FCGX_Accept_r, reading the parameters.
    staller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staller.connect(str(stack.sock))
    staller.sendall(record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0)))
    staller.sendall(record(PARAMS, name_value(b"REQUEST_METHOD", b"POST"))[:12])
    try:
        answer = whole_request(stack)  # waits at most MAX_WAIT; held forever without the limit
        assert answer.startswith(b"Status: 200 OK"), answer[:300]
        # The stalled connection was dropped by the process.
        staller.settimeout(MAX_WAIT)
        try:
            assert staller.recv(100) == b""
        except ConnectionResetError:
            pass  # dropped with our unread bytes: as good as a close
    finally:
        staller.close()
    assert len(stack.site.journal_lines()) == 1
    assert stack.proc.poll() is None


def test_a_peer_that_stalls_in_its_body_gets_a_400_and_the_next_client_is_served(stack):
    body = json.dumps(sample("chatdealer-chat-start")).encode()
    staller = Conversation(stack.sock, params(stack, body), timeout=MAX_WAIT)
    staller.send_body(body[:10])  # and never the rest
    answer = staller.answer()
    assert answer.startswith(b"Status: 400 Bad Request"), answer[:300]
    # libfcgi ends the stream at the failed read: what came is all there is.
    assert b'"error":"truncated_body"' in answer and b"ended after 10 of the" in answer
    assert stack.site.journal_lines() == []
    assert whole_request(stack).startswith(b"Status: 200 OK")
    assert len(stack.site.journal_lines()) == 1
    assert stack.proc.poll() is None
