"""What only a long-running FastCGI process can get wrong: many requests in one
process, stopping under load, picking up config changes, and peers that go
away. Through real nginx and spawn-fcgi, from nginx/chathooks-fastcgi.conf."""
import json
import os
import signal
import threading
import time

import pytest

from itkit import TOKEN, headers, running, sample
from fastcgi_wire import Conversation, send_partial_request
from stack import NginxSpawnFcgi
from webclient import post

MAX_WAIT = 30  # seconds, for anything the tests wait on


@pytest.fixture
def stack():
    with running(NginxSpawnFcgi) as s:
        text = s.site.config_path.read_text(encoding="utf-8").replace("fsync: true", "fsync: false")
        s.site.config_path.write_text(text, encoding="utf-8")
        yield s


def app_pid(stack):
    pid = stack.fastcgi["chathooks"].pid
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0].endswith(b"/chathooks")  # spawn-fcgi -n execs it
    return pid


def fastcgi_params(stack, event, body):
    """What nginx would pass for a POST to /hooks/chatdealer/<event>."""
    return {"REQUEST_METHOD": "POST", "SCRIPT_NAME": f"/hooks/chatdealer/{event}",
            "CONTENT_LENGTH": str(len(body)), "CHATHOOKS_CONFIG": str(stack.site.config_path),
            "HTTP_X_CHATHOOKS_TOKEN": TOKEN, "REMOTE_ADDR": "127.0.0.1"}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def post_many(stack, n, handler="chatdealer-chat-message"):
    body = sample(handler)
    for i in range(n):
        body["msg"] = f"message {i}"
        r = post(stack.url(handler), body, headers(handler))
        assert r.status == 200, r.body


def test_a_thousand_sequential_requests_in_one_process_each_leave_one_line(stack):
    pid = app_pid(stack)
    post_many(stack, 1000)
    lines = stack.journal_lines()
    assert len(lines) == 1000
    assert [json.loads(l)["payload"]["msg"] for l in lines] == [f"message {i}" for i in range(1000)]
    assert app_pid(stack) == pid
    # Memory stays flat: a second thousand costs (next to) nothing more.
    after_first = rss_kib(pid)
    post_many(stack, 1000)
    assert len(stack.journal_lines()) == 2000
    assert rss_kib(pid) - after_first < 512, (after_first, rss_kib(pid))


def test_sigterm_under_load_loses_no_accepted_event(stack):
    pid = app_pid(stack)
    accepted, failed = [], []
    stop = threading.Event()

    def load():
        body = sample("chatdealer-chat-start")
        for _ in range(3000):  # bounded; ends at the first refusal after SIGTERM
            if stop.is_set():
                return
            try:
                r = post(stack.url("chatdealer-chat-start"), body, headers("chatdealer-chat-start"))
            except OSError as e:
                failed.append(str(e))
                continue
            (accepted.append(r.json["id"]) if r.status == 200 else failed.append(r.status))
            if failed and len(failed) > 20:
                return

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + MAX_WAIT
    while len(accepted) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(accepted) >= 100
    os.kill(pid, signal.SIGTERM)
    stack.fastcgi["chathooks"].wait(timeout=MAX_WAIT)
    assert stack.fastcgi["chathooks"].returncode == 0  # a clean exit, not a kill
    for t in threads:
        t.join(timeout=MAX_WAIT)
    stop.set()
    assert failed, "the process stopped, so later requests must fail"
    journaled = [json.loads(l)["request_id"] for l in stack.journal_lines()]  # every line whole
    assert sorted(journaled) == sorted(accepted)


def test_config_changes_are_picked_up_without_a_restart(stack):
    pid = app_pid(stack)
    h = "chatdealer-chat-start"
    assert post(stack.url(h), sample(h), headers(h)).status == 200
    new_token = "rotated-token-9876543210"
    text = stack.site.config_path.read_text(encoding="utf-8").replace(TOKEN, new_token)
    stack.site.config_path.write_text(text, encoding="utf-8")
    assert post(stack.url(h), sample(h), headers(h)).status == 401
    assert post(stack.url(h), sample(h), headers(h, new_token)).status == 200
    assert app_pid(stack) == pid


def test_sighup_rereads_secrets_kept_in_files(stack):
    pid = app_pid(stack)
    secret_file = stack.site.root / "token.txt"
    secret_file.write_text("token-from-a-file-000000\n")
    text = stack.site.config_path.read_text(encoding="utf-8").replace(f'"{TOKEN}"', '{ file: "token.txt" }')
    stack.site.config_path.write_text(text, encoding="utf-8")
    h = "chatdealer-chat-start"
    assert post(stack.url(h), sample(h), headers(h, "token-from-a-file-000000")).status == 200
    # The config file did not change, only the secret's file: SIGHUP makes it count.
    secret_file.write_text("token-from-a-file-111111\n")
    # Until then the decoded config is kept: the old secret still counts.
    assert post(stack.url(h), sample(h), headers(h, "token-from-a-file-111111")).status == 401
    assert post(stack.url(h), sample(h), headers(h, "token-from-a-file-000000")).status == 200
    os.kill(pid, signal.SIGHUP)
    # The signal is pending before the next connection arrives, and it is taken
    # before the next request is served: the very next request sees the new secret.
    assert post(stack.url(h), sample(h), headers(h, "token-from-a-file-111111")).status == 200
    assert post(stack.url(h), sample(h), headers(h, "token-from-a-file-000000")).status == 401
    assert app_pid(stack) == pid


def test_a_peer_that_goes_away_mid_request_does_not_kill_the_process(stack):
    pid = app_pid(stack)
    body = json.dumps(sample("chatdealer-chat-start")).encode()
    params = fastcgi_params(stack, "chat-start", body)
    for _ in range(5):
        send_partial_request(stack.site.root / "sock" / "chathooks.sock", params, body[: len(body) // 2])
    h = "chatdealer-chat-start"
    assert post(stack.url(h), sample(h), headers(h)).status == 200
    assert app_pid(stack) == pid
    assert len(stack.journal_lines()) == 1  # the half-sent requests were not accepted


def reading_a_body(pid):
    """True while the process waits in read(2) (x86-64 syscall 0) with SIGTERM
    blocked: serving a request, not reading a request's header inside
    FCGX_Accept_r, where SIGTERM is let in and would end the accept instead."""
    with open(f"/proc/{pid}/syscall") as f:
        in_read = f.read().split()[0] == "0"
    with open(f"/proc/{pid}/status") as f:
        blocked = next(int(l.split()[1], 16) for l in f if l.startswith("SigBlk:"))
    return in_read and blocked & (1 << (signal.SIGTERM - 1)) != 0


def test_sigterm_while_a_body_is_arriving_lets_that_request_finish(stack):
    pid = app_pid(stack)
    body = json.dumps(sample("chatdealer-chat-end")).encode()
    params = fastcgi_params(stack, "chat-end", body)
    talk = Conversation(stack.site.root / "sock" / "chathooks.sock", params)
    talk.send_body(body[:20])
    # Wait (bounded) until the process is reading this request's body.
    deadline = time.monotonic() + MAX_WAIT
    while not reading_a_body(pid):
        assert time.monotonic() < deadline, "the process never started reading the body"
        time.sleep(0.01)
    os.kill(pid, signal.SIGTERM)
    talk.send_body(body[20:], last=True)
    answer = talk.answer()
    assert answer.startswith(b"Status: 200 OK"), answer[:300]
    [line] = stack.journal_lines()
    assert json.loads(line)["payload"]["chat_id"] == "21252"
    stack.fastcgi["chathooks"].wait(timeout=MAX_WAIT)
    assert stack.fastcgi["chathooks"].returncode == 0
