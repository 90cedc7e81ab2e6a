"""Every way we ship to deploy, through the real server, from the shipped files:
every event is accepted and journaled, the auth header reaches the handler, bad
input gets its status, and a body over the limit is refused."""
import json

import pytest

from itkit import LIMIT, TOKEN, headers, running, sample
from stack import HANDLERS, Apache, NginxFcgiwrap, NginxSpawnFcgi, spalo_kind
from webclient import post

KINDS = {
    "nginx-fcgiwrap": (NginxFcgiwrap, {}),
    "nginx-spawnfcgi-routed": (NginxSpawnFcgi, {}),
    "nginx-spawnfcgi-per-event": (NginxSpawnFcgi, {"per_event": True}),
    "apache-htaccess-cgi": (Apache, {"mode": "htaccess"}),
    "apache-vhost-cgi": (Apache, {"mode": "vhost-cgi"}),
    "apache-fcgid": (Apache, {"mode": "fcgid"}),
}


@pytest.fixture(scope="module", params=list(KINDS))
def stack(request):
    kind, kw = KINDS[request.param]
    with running(kind, **kw) as s:
        yield s


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_event_is_accepted_and_journaled(stack, handler):
    body = sample(handler)
    before = len(stack.journal_lines())
    r = post(stack.url(handler), body, headers(handler))
    assert r.status == 200, (r.body, stack.error_log()[-3000:])
    lines = stack.journal_lines()
    assert len(lines) == before + 1
    record = json.loads(lines[-1])
    assert record["remote_addr"] == "127.0.0.1"
    if kind := spalo_kind(handler):
        expected = {"dataset": {"type": "dataset", "actions": [{"key": "住所", "value": "東京都中央区銀座1-2-3"}]},
                    "search": ["銀座店", "新宿店", "梅田店"],
                    "send": {"ok": True, "id": record["request_id"]}}[kind]
        assert r.json == expected
        assert "webhookKey" not in record["payload"] and "secretHash" not in record["payload"]
        assert record["request_id"] == r.headers["x-chathooks-request-id"]
        assert (record["source"], record["event"], record["webhook"]) == \
            ("spalo", kind, {"dataset": "address", "search": "stores", "send": "answers"}[kind])
    else:
        assert r.json["ok"] is True and record["request_id"] == r.json["id"]
        assert record["payload"] == body
        assert (record["source"], record["event"]) == ("chatdealer", handler[len("chatdealer-"):])


def test_the_auth_header_reaches_the_handler(stack):
    before = stack.journal_lines()
    r = post(stack.url("chatdealer-chat-start"), sample("chatdealer-chat-start"), headers("chatdealer-chat-start", TOKEN + "x"))
    assert r.status == 401 and r.json["error"] == "unauthorized", r.body
    assert "does not hold an accepted token" in r.json["message"]
    r = post(stack.url("chatdealer-chat-start"), sample("chatdealer-chat-start"), headers("chatdealer-chat-start", None))
    assert r.status == 401 and "header is missing" in r.json["message"]
    assert stack.journal_lines() == before
    log = stack.error_log()
    assert "chatdealer/chat-start: 401 unauthorized" in log
    assert TOKEN not in log


@pytest.mark.parametrize("method,body,extra,status,code", [
    ("GET", None, {}, 405, "method_not_allowed"),
    ("POST", b"{", {}, 400, "invalid_json"),
    ("POST", b"[]", {}, 400, "invalid_json"),
    ("POST", b'{"chat_id":"1"}', {}, 400, "invalid_field"),
    ("POST", b"x" * (LIMIT + 1), {}, 413, "body_too_large"),
    ("POST", b"x" * (LIMIT * 8), {}, 413, "body_too_large"),
    ("POST", b"{}", {"Content-Type": "multipart/form-data; boundary=z"}, 415, "unsupported_media_type"),
], ids=["get", "broken-json", "array", "missing-field", "just-over-limit", "far-over-limit", "multipart"])
def test_bad_input_gets_its_status(stack, method, body, extra, status, code):
    before = stack.journal_lines()
    r = post(stack.url("chatdealer-form"), body, {**headers("chatdealer-form"), **extra}, method=method)
    assert r.status == status, (r.body, stack.error_log()[-2000:])
    assert r.json["error"] == code
    if status == 405:
        assert r.headers["allow"] == "POST"
    assert stack.journal_lines() == before


def test_a_refused_large_body_from_a_stranger_is_answered_not_dropped(stack):
    # 401 before the body is read; the gateway must still get its answer.
    r = post(stack.url("chatdealer-chat-end"), b"x" * (LIMIT - 10), headers("chatdealer-chat-end", "wrong"))
    assert r.status == 401, r.body


def test_spalo_errors_keep_spalo_form(stack):
    body = dict(sample("spalo-dataset"), webhookKey="WRONG")
    r = post(stack.url("spalo-dataset"), body, headers("spalo-dataset"))
    assert r.status == 401
    assert r.json == {"type": "text", "text": "ただいまデータを取得できません。しばらくしてからもう一度お試しください。"}
    assert r.headers["x-chathooks-error"] == "unauthorized"


def test_short_urls_through_the_bundles_rewrite_rule():
    with running(Apache, mode="htaccess") as stack:
        r = post(stack.url("chatdealer-form", short=True), sample("chatdealer-form"), headers("chatdealer-form"))
        assert r.status == 200, r.body
        # The config and data/ are never served.
        for path in ["/chathooks/chathooks.json5", "/chathooks/data/journal.jsonl", "/chathooks/data/"]:
            r = post(f"http://127.0.0.1:{stack.port}{path}", method="GET")
            assert r.status in (403, 404), (path, r.status)
        assert len(stack.journal_lines()) == 1
