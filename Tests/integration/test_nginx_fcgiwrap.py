"""The built handlers behind real nginx + fcgiwrap, configured by the shipped
nginx/chathooks-fcgiwrap.conf (templated only for paths, socket and port)."""
import json
import os
import tempfile
from pathlib import Path

import bcrypt
import pytest

from stack import HANDLERS, REPO, NginxFcgiwrap, Site
from webclient import post

TOKEN = "integration-token-0123456789"
SECRET = "integration-client-secret"
KEY = "85126C79CBF9FE36BB9D05D0639C70C235C18D37"


def sample(handler):
    name = "dataset" if handler == "spalo-dataset" else handler[len("chatdealer-"):]
    return json.loads((REPO / "examples" / "samples" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stack():
    config = (REPO / "examples" / "chathooks.json5").read_text(encoding="utf-8")
    config = config.replace("change-me-to-a-long-random-token", TOKEN).replace('"change-me-too"', f'"{SECRET}"')
    config = config.replace("maxBodyBytes: 1048576", "maxBodyBytes: 65536")
    with tempfile.TemporaryDirectory(prefix="chathooks-nginx-") as tmp:
        os.chmod(tmp, 0o755)  # the servers run as www-data when the tests run as root
        site = Site(Path(tmp) / "site", config)
        with NginxFcgiwrap(site) as s:
            yield s


def headers(handler):
    h = {"Content-Type": "application/json"}
    if handler != "spalo-dataset":
        h["X-Chathooks-Token"] = TOKEN
    return h


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_event_is_accepted_and_journaled(stack, handler):
    body = sample(handler)
    if handler == "spalo-dataset":
        body["secretHash"] = bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
    before = len(stack.site.journal_lines())
    r = post(stack.url(handler), body, headers(handler))
    assert r.status == 200, (r.body, stack.error_log()[-2000:])
    lines = stack.site.journal_lines()
    assert len(lines) == before + 1
    record = json.loads(lines[-1])
    assert record["remote_addr"] == "127.0.0.1"
    if handler == "spalo-dataset":
        assert r.json == {"type": "dataset", "actions": [{"key": "住所", "value": "東京都中央区銀座1-2-3"}]}
        assert "webhookKey" not in record["payload"] and "secretHash" not in record["payload"]
        assert record["request_id"] == r.headers["x-chathooks-request-id"]
    else:
        assert r.json["ok"] is True and record["request_id"] == r.json["id"]
        assert record["payload"] == body


def test_the_auth_header_reaches_the_handler_and_a_wrong_one_is_refused(stack):
    before = stack.site.journal_lines()
    r = post(stack.url("chatdealer-chat-start"), sample("chatdealer-chat-start"),
             {"X-Chathooks-Token": TOKEN + "x"})
    assert r.status == 401 and r.json["error"] == "unauthorized"
    r = post(stack.url("chatdealer-chat-start"), sample("chatdealer-chat-start"), {})
    assert r.status == 401 and "header is missing" in r.json["message"]
    assert stack.site.journal_lines() == before
    # The handler's stderr line lands in nginx's error log, without the token.
    log = stack.error_log()
    assert "chatdealer/chat-start: 401 unauthorized" in log
    assert TOKEN not in log


@pytest.mark.parametrize("method,body,extra,status,code", [
    ("GET", None, {}, 405, "method_not_allowed"),
    ("POST", b"{", {}, 400, "invalid_json"),
    ("POST", b"[]", {}, 400, "invalid_json"),
    ("POST", b'{"chat_id":"1"}', {}, 400, "invalid_field"),
    ("POST", b"x" * 70000, {}, 413, "body_too_large"),
    ("POST", b"{}", {"Content-Type": "multipart/form-data; boundary=z"}, 415, "unsupported_media_type"),
], ids=["get", "broken-json", "array", "missing-field", "over-limit", "multipart"])
def test_bad_input_gets_its_status_through_nginx(stack, method, body, extra, status, code):
    before = stack.site.journal_lines()
    r = post(stack.url("chatdealer-form"), body, {**headers("chatdealer-form"), **extra}, method=method)
    assert r.status == status, r.body
    assert r.json["error"] == code
    if status == 405:
        assert r.headers["allow"] == "POST"
    assert stack.site.journal_lines() == before


def test_unknown_paths_do_not_run_anything(stack):
    r = post(f"http://127.0.0.1:{stack.port}/hooks/chatdealer/../../bin/chathooks", b"{}")
    assert r.status == 404
    r = post(f"http://127.0.0.1:{stack.port}/hooks/chatdealer/dataset", b"{}")
    assert r.status in (403, 404)
