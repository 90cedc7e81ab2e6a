"""Hostile catalogue (#9): one table of hostile requests, each run through a
built executable as a CGI process (see hostile_site.py for the site), and a
table of malformed FastCGI records sent to one spawn-fcgi'd `chathooks`.

For every CGI case: the process exits 0 (never by a signal), its response is
one complete CGI response (a Status line, known headers once each, a body of
its Content-Length), the status, error code and message are the expected
ones, the journal got the expected number of lines (none for a refusal), no
file appeared outside data/ (and mailbox/, the fake sendmail's), every mail
header line is a real header, every error-log line is one of ours, and it all
happened within CASE_TIMEOUT (a crafted bcrypt cost must not pin a CPU).

For every FastCGI case: the process survives, and a valid request on a new
connection is answered 200.

Cases marked xfail(strict=True) are bugs found by this catalogue, kept with
the right expectation: they pass (and the mark must go) once fixed.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest

sys.set_int_max_str_digits(0)  # the journal may hold a 100,000-digit number

from hostile_site import (BIN_DIR, CLIENT_SECRET, MAIL_TO, MAX_BODY, RESPONSE_HEADERS, TOKEN1, TOKEN2,
                          WEBHOOK_KEY, Site, check_mail_headers, mails, make_site)
from cgi_reply import parse_cgi  # noqa: E402 (hostile_site puts tools/ on the path)
from stack import record_evidence  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLES = {e: json.loads((REPO / "examples" / "samples" / f"{e}.json").read_text(encoding="utf-8"))
           for e in ["chat-start", "chat-message", "chat-end", "scenario", "form"]}
CASE_TIMEOUT = 15  # seconds for one request, on a loaded machine (a crafted bcrypt cost would take hours)
BIG_TIMEOUT = 60  # for the cases that move 10 MB or a million keys, on a loaded machine
MB10 = 10 * 1024 * 1024


def j(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def cd(event, **changes) -> dict:
    body = json.loads(json.dumps(SAMPLES[event]))
    body.update(changes)
    return body


def h(secret=CLIENT_SECRET, rounds=4, prefix=b"2b") -> str:
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=rounds, prefix=prefix)).decode()


GOOD_HASH = h()
assert GOOD_HASH.startswith("$2b$04$") and len(GOOD_HASH) == 60


def sp(secret_hash=GOOD_HASH, **changes) -> dict:
    body = {"webhookKey": WEBHOOK_KEY, "secretHash": secret_hash, "event": "DATASET",
            "eventTime": "2023-01-18 09:40:30", "item_name": "外部データ設定",
            "data": [{"id": "C5", "type": "date", "value": "2023年01月18日", "title": "開始日"}],
            "botName": "業務日報", "info": {"userId": 123, "userName": "鈴木一郎", "email": "suzuki@spalo.co.jp"}}
    body.update(changes)
    return body


def raw_with(event, field_name, raw_value: bytes) -> bytes:
    """The sample, ASCII-escaped, with one field's JSON text replaced by raw bytes."""
    body = cd(event, **{field_name: "@@"})
    return json.dumps(body).encode().replace(b'"@@"', raw_value)


def nested(depth, inner=b"1") -> bytes:
    """The chat-start sample with a field `x` holding `depth` nested arrays (the
    object itself is one level more)."""
    return raw_with("chat-start", "memo", b"[" * depth + inner + b"]" * depth)


def last_byte_changed(s):
    return s[:-1] + ("b" if s[-1] != "b" else "c")


@dataclass
class Case:
    name: str
    handler: str
    body: object = b""               # bytes, str, an object sent as JSON, or a function making one
    status: int = 200
    code: str | None = None          # the error code (Chat Dealer form); None for SPALO and 2xx
    message: str | None = None       # a part of the message (or SPALO's text)
    journal: int = 0                 # lines the journal must have afterwards
    kw: dict = field(default_factory=dict)   # Site.env overrides: length, token, method, content_type, extra, drop
    argv: tuple = ()                 # arguments after the program's name
    bytes_env: dict | None = None    # environment entries that are not UTF-8
    mode: str = "run"                # run | slow | truncated
    check: object = None             # a function (site, result) -> None for what is particular to the case
    spalo: bool | None = None        # answered in SPALO's form (default: the spalo-dataset executable)
    xfail: str | None = None
    timeout: float = CASE_TIMEOUT


def ok(name, handler, body, **kw):
    return Case(name, handler, body, 200, journal=1, **kw)


def refused(name, handler, body, status, code, message=None, **kw):
    return Case(name, handler, body, status, code, message, **kw)


def spalo_refused(name, body, status, message, code=None, **kw):
    """SPALO's own error form; `code` defaults by status (401 unauthorized …)."""
    code = code or {401: "unauthorized", 411: "length_required", 413: "body_too_large"}[status]
    return Case(name, "spalo-dataset", body, status, code, message, **kw)


# --- checks for particular cases ----------------------------------------------------------------

def journal_lines(site):
    """The journal's lines, split on newlines only (JSON text may hold U+2028 or U+0085)."""
    if not site.journal_path.exists():
        return []
    data = site.journal_path.read_bytes()
    assert data.endswith(b"\n") or not data, "the journal's last line is not whole"
    return data.split(b"\n")[:-1]


def journal_has(text: bytes):
    def check(site, result):
        [line] = journal_lines(site)
        assert text in line, line[-300:]
    return check


def chat_file_holds_the_line(folder):
    def check(site, result):
        files = [p for p in (site.root / "data" / folder).rglob("*") if p.is_file()]
        assert len(files) == 1, files
        assert files[0].read_bytes().split(b"\n")[:-1] == journal_lines(site)
    return check


def one_mail(*, subject_has=None, reply_to=None):
    def check(site, result):
        [(argv, raw, msg)] = mails(site)
        assert argv[-2:] == ["--", MAIL_TO], argv
        assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-Injected"] is None
        assert str(msg["Reply-To"] or "") == (reply_to or ""), msg["Reply-To"]
        if subject_has:
            assert subject_has in msg["Subject"], msg["Subject"]
    return check


def both(*checks):
    def check(site, result):
        for c in checks:
            c(site, result)
    return check


def action_failed_header_clean(site, result):
    value = result.headers["x-chathooks-action-failed"]
    assert "\r" not in value and "\n" not in value
    assert result.json["type"] == "dataset"


def spalo_file_holds_the_line(site, result):
    chat_file_holds_the_line("spalo")(site, result)
    action_failed_header_clean(site, result)


def not_said(result, words):
    assert words not in result.json["message"], result.json["message"]


def said_exponent(result):
    # Said, without repeating the body's text (a refusal never quotes it: see RejectionLog).
    assert "a number with an exponent" in result.json["message"] and "1e2" not in result.json["message"], result.json["message"]


def not_the_cli(site, result):
    """A web request never reaches the admin command: the output is one CGI response, nothing of the CLI's."""
    assert result.stdout.startswith(b"Status: "), result.stdout[:200]
    for word in (b"usage:", b"libxcrypt", b": valid", b"journal: "):
        assert word not in result.stdout and word not in result.stderr.encode(), word


INJECT = "\r\nBcc: evil@example.com\r\nX-Injected: 1\r\n\r\nbody"
TOKEN_VARIANTS = [("token1-last-byte", last_byte_changed(TOKEN1)), ("token2-last-byte", last_byte_changed(TOKEN2)),
                  ("token1-prefix", TOKEN1[:-1]), ("token1-extended", TOKEN1 + "a"), ("token1-space", TOKEN1 + " "),
                  ("token1-newline", TOKEN1 + "\n"), ("token1-upper", TOKEN1.upper()), ("token-empty", ""),
                  ("token1-crlf-header", TOKEN1 + "\r\nX-Injected: 1")]
SALT_AND_HASH = GOOD_HASH[7:]  # 53 characters of bcrypt base 64


CASES = [
    # --- Content-Length that lies or is absurd ---------------------------------------------------
    refused("cl-longer-than-body", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 400, "truncated_body",
            "announced by Content-Length", kw={"length": len(j(SAMPLES["chat-start"])) + 10}),
    refused("cl-shorter-than-body", "chatdealer-chat-start", json.dumps(SAMPLES["chat-start"]).encode(), 400,
            "invalid_json", "not valid JSON", kw={"length": 40}),
    refused("cl-zero-with-a-body", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 400, "empty_body", "empty",
            kw={"length": 0}),
    refused("cl-negative", "chatdealer-chat-start", b"{}", 400, "invalid_length", "Content-Length", kw={"length": "-1"}),
    refused("cl-plus-sign", "chatdealer-chat-start", b"{}", 400, "invalid_length", "Content-Length", kw={"length": "+2"}),
    refused("cl-hex", "chatdealer-chat-start", b"{}", 400, "invalid_length", "Content-Length", kw={"length": "0x2"}),
    refused("cl-leading-space", "chatdealer-chat-start", b"{}", 400, "invalid_length", "Content-Length", kw={"length": " 2"}),
    refused("cl-fullwidth-digits", "chatdealer-chat-start", b"{}", 400, "invalid_length", "Content-Length",
            kw={"length": "２"}),
    refused("cl-two-values", "chatdealer-chat-start", b"{}", 400, "invalid_length", "Content-Length", kw={"length": "2, 2"}),
    refused("cl-empty", "chatdealer-chat-start", b"{}", 411, "length_required", "Content-Length", kw={"length": ""}),
    refused("cl-2-to-the-64", "chatdealer-chat-start", b"{}", 413, "body_too_large", str(MAX_BODY),
            kw={"length": str(2 ** 64)}),
    refused("cl-int64-max", "chatdealer-chat-start", b"{}", 413, "body_too_large", str(MAX_BODY),
            kw={"length": str(2 ** 63 - 1)}),
    refused("cl-thousand-digits", "chatdealer-chat-start", b"{}", 413, "body_too_large", str(MAX_BODY),
            kw={"length": "9" * 1000}),
    refused("cl-one-over-the-limit", "chatdealer-chat-start", b"{}", 413, "body_too_large", str(MAX_BODY),
            kw={"length": str(MAX_BODY + 1)}),
    ok("cl-leading-zeros", "chatdealer-chat-start", j(SAMPLES["chat-start"]),
       kw={"length": "0" * 40 + str(len(j(SAMPLES["chat-start"])))}),
    spalo_refused("cl-missing-spalo", j(sp()), 411, "Content-Length", kw={"length": None, "drop": ["CONTENT_LENGTH"]}),

    # --- truncated and slow bodies ----------------------------------------------------------------
    refused("truncated-half", "chatdealer-chat-end", j(SAMPLES["chat-end"]), 400, "truncated_body",
            f"after {len(j(SAMPLES['chat-end'])) // 2} of the", mode="truncated"),
    refused("truncated-nothing-sent", "chatdealer-chat-end", j(SAMPLES["chat-end"]), 400, "truncated_body",
            "after 0 of the", mode="truncated-at-0"),
    Case("slow-body-in-pieces", "chatdealer-chat-end", j(SAMPLES["chat-end"]), 200, journal=1, mode="slow",
         check=chat_file_holds_the_line("chats")),
    refused("slow-then-truncated", "chatdealer-chat-message", j(SAMPLES["chat-message"]), 400, "truncated_body",
            "announced by Content-Length", mode="slow-truncated"),
    Case("slow-spalo", "spalo-dataset", j(sp()), 200, journal=1, mode="slow", check=action_failed_header_clean),

    # --- invalid and overlong UTF-8 ---------------------------------------------------------------
    refused("utf8-ff", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\xff"'), 400, "invalid_utf8", "UTF-8"),
    refused("utf8-overlong-slash-2", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b'"..\xc0\xafetc"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-overlong-slash-3", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b'"..\xe0\x80\xafetc"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-overlong-nul-2", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"a\xc0\x80b"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-overlong-quote", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"a\xc0\xa2,"x":"y"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-encoded-surrogate", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\xed\xa0\x80"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-above-10ffff", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\xf4\x90\x80\x80"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-five-bytes", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\xf8\x88\x80\x80\x80"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-lone-continuation", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\x80"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-cut-sequence", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\xe3\x81"'), 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-cut-at-the-end", "chatdealer-chat-start", j(SAMPLES["chat-start"])[:-1] + b"\xe3", 400,
            "invalid_utf8", "UTF-8"),
    refused("utf8-in-a-key", "chatdealer-chat-start", b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","\xc0\xaf":1}',
            400, "invalid_utf8", "UTF-8"),
    refused("utf8-outside-strings", "chatdealer-chat-start", j(SAMPLES["chat-start"])[:-1] + b"\xc2\xa0}", 400, None),
    refused("lone-high-surrogate-escape", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\\ud800"'), 400,
            "invalid_json", "surrogate"),
    refused("lone-low-surrogate-escape", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\\udc00x"'), 400,
            "invalid_json", "surrogate"),
    refused("reversed-surrogate-pair", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"\\ude00\\ud83d"'), 400,
            "invalid_json", "surrogate"),
    refused("utf8-overlong-in-a-form", "chatdealer-chat-end", b"event_date=2020%2F12%2F10+15%3A29%3A08&chat_id=..%C0%AF",
            400, "invalid_utf8", "UTF-8", kw={"content_type": "application/x-www-form-urlencoded"}),
    # RFC 8259 §8.1: a parser MAY ignore a byte order mark; this one does.
    ok("utf8-bom", "chatdealer-chat-start", b"\xef\xbb\xbf" + j(SAMPLES["chat-start"])),
    spalo_refused("utf8-invalid-spalo", raw_with("chat-start", "chat_id", b'"\xff"'), 400, "UTF-8", "invalid_utf8"),

    # --- NUL bytes --------------------------------------------------------------------------------
    refused("nul-raw-in-a-string", "chatdealer-chat-start", raw_with("chat-start", "chat_id", b'"a\x00b"'), 400,
            "invalid_json", "not valid JSON"),
    refused("nul-after-the-object", "chatdealer-chat-start", j(SAMPLES["chat-start"]) + b"\x00", 400, "invalid_json"),
    refused("nul-before-the-object", "chatdealer-chat-start", b"\x00" + j(SAMPLES["chat-start"]), 400, "invalid_json"),
    refused("nul-only", "chatdealer-chat-start", b"\x00" * 16, 400, "invalid_json"),
    ok("nul-escaped-in-a-file-name", "chatdealer-chat-end", cd("chat-end", chat_id="a\u0000b/../../x"),
       check=chat_file_holds_the_line("chats")),
    ok("nul-escaped-in-a-mail-subject", "chatdealer-chat-message", cd("chat-message", msg="a\u0000Bcc: evil@example.com"),
       check=both(chat_file_holds_the_line("chats"), one_mail(subject_has="a Bcc: evil@example.com"))),
    ok("nul-in-a-form-field", "chatdealer-chat-start",
       b"event_date=2020%2F12%2F10+15%3A29%3A08&chat_id=a%00b&visitor_id=..%2F..%00",
       kw={"content_type": "application/x-www-form-urlencoded"}, check=chat_file_holds_the_line("starts")),

    # --- 100,000-deep nesting ---------------------------------------------------------------------
    refused("deep-arrays-100000", "chatdealer-chat-start", nested(100_000), 400, "invalid_json", "nested deeper than 64"),
    refused("deep-objects-100000", "chatdealer-chat-start",
            raw_with("chat-start", "memo", b'{"a":' * 100_000 + b"1" + b"}" * 100_000), 400, "invalid_json",
            "nested deeper than 64"),
    refused("deep-unclosed-100000", "chatdealer-chat-start", b"[" * 100_000, 400, "invalid_json"),
    refused("deep-in-a-transcript", "chatdealer-chat-end",
            raw_with("chat-end", "chat_detail", b"[" * 100_000 + b"]" * 100_000), 400, "invalid_json", "nested"),
    spalo_refused("deep-spalo", raw_with("chat-start", "memo", b"[" * 100_000 + b"]" * 100_000), 400, "nested deeper", "invalid_json"),
    ok("depth-64-is-fine", "chatdealer-chat-start", nested(63)),
    refused("depth-65-is-not", "chatdealer-chat-start", nested(64), 400, "invalid_json", "nested deeper than 64"),

    # --- a 10 MB string ---------------------------------------------------------------------------
    ok("string-10mb-unknown-field", "chatdealer-chat-start", lambda: cd("chat-start", memo="x" * MB10), timeout=BIG_TIMEOUT),
    ok("string-10mb-in-a-mail-subject", "chatdealer-chat-message", lambda: cd("chat-message", msg="あ" * (MB10 // 3)),
       check=one_mail(), timeout=BIG_TIMEOUT),
    refused("string-10mb-as-a-file-name", "chatdealer-chat-end", lambda: cd("chat-end", chat_id="x" * MB10), 500,
            "action_failed", "longer than 128 bytes", journal=1, timeout=BIG_TIMEOUT),
    refused("string-10mb-of-escapes", "chatdealer-chat-start", lambda: raw_with("chat-start", "memo", b'"' + b"\\u00" * (MB10 // 4)),
            400, "invalid_json", timeout=BIG_TIMEOUT),
    ok("key-10mb", "chatdealer-chat-start", lambda: raw_with("chat-start", "memo", b'{"' + b"k" * MB10 + b'":1}'), timeout=BIG_TIMEOUT),
    refused("body-over-the-limit", "chatdealer-chat-start", b"{}", 413, "body_too_large", str(MAX_BODY),
            kw={"length": MAX_BODY + 1}, mode="truncated-at-0"),

    # --- duplicate keys, escaped-equal ones included ----------------------------------------------
    refused("dup-plain", "chatdealer-chat-start", b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","chat_id":"2"}',
            400, "invalid_json", 'duplicate key "chat_id"'),
    refused("dup-escaped-underscore", "chatdealer-chat-start",
            b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","chat\\u005fid":"2"}', 400, "invalid_json",
            'duplicate key "chat_id"'),
    refused("dup-all-escaped", "chatdealer-chat-start",
            b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","\\u0063\\u0068\\u0061\\u0074\\u005F\\u0069\\u0064":"2"}',
            400, "invalid_json", "duplicate key"),
    refused("dup-escaped-solidus", "chatdealer-chat-start",
            b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","a/b":1,"a\\/b":2}', 400, "invalid_json", "duplicate key"),
    refused("dup-escaped-japanese", "chatdealer-chat-start",
            '{"event_date":"2020/12/10 15:29:08","chat_id":"1","ク":1,"\\u30af":2}'.encode(), 400, "invalid_json",
            "duplicate key"),
    refused("dup-escaped-emoji-pair", "chatdealer-chat-start",
            '{"event_date":"2020/12/10 15:29:08","chat_id":"1","😀":1,"\\ud83d\\ude00":2}'.encode(), 400, "invalid_json",
            "duplicate key"),
    refused("dup-event-date-later-invalid", "chatdealer-chat-start",
            b'{"event_date":"2020/12/10 15:29:08","chat_id":"1","event_date":"garbage"}', 400, "invalid_json",
            "duplicate key"),
    refused("dup-in-a-transcript-entry", "chatdealer-chat-end",
            raw_with("chat-end", "chat_detail", b'[{"msg_type":"staff","msg":"a","msg":"b"}]'), 400, "invalid_json",
            'duplicate key "msg"'),
    spalo_refused("dup-webhook-key", json.dumps(sp()).encode().replace(b"{", b'{"webhookKey":"0000",', 1), 400,
                  "duplicate key", "invalid_json"),
    spalo_refused("dup-webhook-key-escaped", json.dumps(sp()).encode().replace(b"{", b'{"webhook\\u004bey":"0000",', 1),
                  400, "duplicate key", "invalid_json"),
    spalo_refused("dup-secret-hash", json.dumps(sp()).encode().replace(b"{", f'{{"secretHash":"{h()}",'.encode(), 1),
                  400, "duplicate key", "invalid_json"),
    refused("dup-in-a-form", "chatdealer-chat-start", b"event_date=2020%2F12%2F10+15%3A29%3A08&chat_id=1&chat%5Fid=2",
            400, "invalid_form", "chat_id", kw={"content_type": "application/x-www-form-urlencoded"}),
    refused("dup-in-a-form-plus-space", "chatdealer-chat-start", b"event_date=2020%2F12%2F10+15%3A29%3A08&a+b=1&a%20b=2",
            400, "invalid_form", kw={"content_type": "application/x-www-form-urlencoded"}),

    # --- 1e999 and other numbers ------------------------------------------------------------------
    ok("number-1e999-unknown-field", "chatdealer-chat-start", raw_with("chat-start", "memo", b"1e999"),
       check=journal_has(b'"memo":1e999}')),
    refused("number-1e999-as-chat-id", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b"1e999"), 400,
            "invalid_field", "chat_id"),
    refused("number-1e999-as-visit-count", "chatdealer-chat-start", raw_with("chat-start", "visit_count", b"1e999"), 400,
            "invalid_field", "visit_count"),
    refused("number-1e2-as-chat-id", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b"1e2"), 400,
            "invalid_field", "chat_id"),
    refused("number-1e2-message-names-the-problem", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b"1e2"), 400,
            "invalid_field", "chat_id", check=lambda site, r: (not_said(r, "fraction"), said_exponent(r))),
    ok("number-huge-integer-chat-id", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b"9" * 100),
       check=chat_file_holds_the_line("chats")),
    ok("number-100000-digits-unknown-field", "chatdealer-chat-start", raw_with("chat-start", "memo", b"1" + b"0" * 100_000)),
    ok("number-negative-zero-id", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b"-0"),
       check=chat_file_holds_the_line("chats")),
    ok("number-1e-999", "chatdealer-chat-start", raw_with("chat-start", "memo", b"1e-999")),
    Case("number-1e999-latitude-kept-as-written", "spalo-dataset", json.dumps(sp(data=[{"id": "C5", "latitude": "@@"}]))
         .encode().replace(b'"@@"', b"1e999"), 200, journal=1, check=journal_has(b'"latitude":1e999}')),
    refused("number-nan", "chatdealer-chat-start", raw_with("chat-start", "memo", b"NaN"), 400, "invalid_json"),
    refused("number-infinity", "chatdealer-chat-start", raw_with("chat-start", "memo", b"-Infinity"), 400, "invalid_json"),
    refused("number-leading-zero", "chatdealer-chat-start", raw_with("chat-start", "memo", b"0123"), 400, "invalid_json"),
    refused("number-bare-minus", "chatdealer-chat-start", raw_with("chat-start", "memo", b"-"), 400, "invalid_json"),
    refused("number-trailing-dot", "chatdealer-chat-start", raw_with("chat-start", "memo", b"1."), 400, "invalid_json"),

    # --- CR/LF in every field that reaches a mail header or a response header ---------------------
    ok("crlf-msg-to-subject", "chatdealer-chat-message", cd("chat-message", msg="hi" + INJECT),
       check=both(chat_file_holds_the_line("chats"), one_mail(subject_has="hi  Bcc: evil@example.com"))),
    ok("crlf-post-user-to-subject", "chatdealer-chat-message", cd("chat-message", post_user="x" + INJECT),
       check=one_mail(subject_has="Bcc: evil@example.com")),
    ok("crlf-chat-id-to-subject-and-file", "chatdealer-chat-message", cd("chat-message", chat_id="7" + INJECT),
       check=both(chat_file_holds_the_line("chats"), one_mail())),
    ok("lf-only-to-subject", "chatdealer-chat-message", cd("chat-message", msg="a\nBcc: evil@example.com\n\nb"),
       check=one_mail(subject_has="Bcc: evil@example.com")),
    ok("cr-only-to-subject", "chatdealer-chat-message", cd("chat-message", msg="a\rBcc: evil@example.com"),
       check=one_mail(subject_has="Bcc: evil@example.com")),
    ok("nel-and-u2028-to-subject", "chatdealer-chat-message",
       cd("chat-message", msg="a\u0085Bcc: evil@example.com\u2028X-Injected: 1\u2029\u000b\u000c"),
       check=one_mail(subject_has="Bcc: evil@example.com")),
    ok("crlf-form-subject", "chatdealer-form",
       cd("form", subject="help" + INJECT), check=both(chat_file_holds_the_line("forms"),
                                                     one_mail(subject_has="help  Bcc: evil@example.com",
                                                              reply_to="user-sample-1@rakus.co.jp"))),
    ok("crlf-form-reply-to-item", "chatdealer-form",
       cd("form", item=[{"item_name": "メールアドレス", "item_value": "a@example.jp\r\nBcc: evil@example.com"}]),
       check=one_mail()),
    ok("crlf-form-reply-to-display-name", "chatdealer-form",
       cd("form", item=[{"item_name": "メールアドレス", "item_value": "x\r\nBcc: evil@example.com <a@example.jp>"}]),
       check=one_mail()),
    ok("crlf-form-item-name", "chatdealer-form",
       cd("form", item=[{"item_name": "メールアドレス\r\nBcc: evil@example.com", "item_value": "a@example.jp"}]),
       check=one_mail()),
    Case("crlf-spalo-item-name-to-response-header", "spalo-dataset", j(sp(item_name="x" + INJECT)), 200, journal=1,
         check=action_failed_header_clean),
    Case("crlf-spalo-bot-name-to-file", "spalo-dataset", j(sp(botName="b" + INJECT)), 200, journal=1,
         check=spalo_file_holds_the_line),
    refused("crlf-content-type", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 415, "unsupported_media_type",
            "multipart", kw={"content_type": "multipart/form-data\r\nX-Injected: 1"}),
    refused("crlf-content-encoding", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 415, "unsupported_media_type",
            "Content-Encoding other than identity", kw={"extra": {"HTTP_CONTENT_ENCODING": "gzip\r\nX-Injected: 1"}}),
    refused("crlf-method", "chatdealer-chat-start", b"", 405, "method_not_allowed", "POST",
            kw={"method": "GET\r\nX-Injected: 1", "length": None}),
    refused("crlf-token", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 401, "unauthorized", "accepted token",
            kw={"token": "x\r\nX-Injected: 1"}),
    refused("crlf-remote-addr-in-the-log", "chatdealer-chat-start", b"{}", 400, "invalid_field",
            kw={"extra": {"REMOTE_ADDR": "1.2.3.4\nchathooks: forged line"}}),
    ok("crlf-remote-addr-journaled", "chatdealer-chat-start", j(SAMPLES["chat-start"]),
       kw={"extra": {"REMOTE_ADDR": "1.2.3.4\r\nX-Injected: 1"}}),
    refused("crlf-request-uri-in-the-log", "chathooks", b"{}", 404, "not_found",
            kw={"extra": {"REQUEST_URI": "/x\r\nchathooks: forged line\n", "PATH_INFO": "/x", "GATEWAY_INTERFACE": "CGI/1.1"}}),
    ok("remote-addr-invalid-utf8-journaled", "chatdealer-chat-start", j(SAMPLES["chat-start"]),
       bytes_env={b"REMOTE_ADDR": b"1.2.3.4\xff\xc0\xaf"}, check=journal_has(b'"remote_addr":"1.2.3.4')),
    refused("token-invalid-utf8", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 401, "unauthorized", "accepted token",
            bytes_env={b"HTTP_X_CHATHOOKS_TOKEN": TOKEN1.encode() + b"\xff"}),
    refused("crlf-path-info-in-the-log", "chathooks", b"{}", 404, "not_found",
            kw={"extra": {"PATH_INFO": "/x\nchathooks: forged line", "GATEWAY_INTERFACE": "CGI/1.1"}}),

    # --- traversal in every field that reaches a file name ----------------------------------------
    *[ok(f"traversal-chat-id-{i}", "chatdealer-chat-end", cd("chat-end", chat_id=v), check=chat_file_holds_the_line("chats"))
      for i, v in enumerate(["../../../../tmp/evil", "..", ".", "/etc/passwd", "..\\..\\evil", "%2e%2e%2fevil",
                             "....//....//evil", "~root", "a/../../b", "．．／evil", ".hidden", "a\u0000/../b", "-rf"])],
    ok("traversal-chat-start-both-fields", "chatdealer-chat-start", cd("chat-start", visitor_id="../..", chat_id="../../x"),
       check=chat_file_holds_the_line("starts")),
    refused("traversal-chat-start-empty-id", "chatdealer-chat-start", cd("chat-start", visitor_id="", chat_id="."), 400,
            "invalid_field", "visitor_id: must not be empty"),
    ok("traversal-chat-start-absent-field", "chatdealer-chat-start",
       {k: v for k, v in cd("chat-start", chat_id=".").items() if k != "visitor_id"}, check=chat_file_holds_the_line("starts")),
    ok("traversal-scenario-two-fields", "chatdealer-scenario",
       cd("scenario", visitor_key="../../../x", page_title="/../../y"), check=chat_file_holds_the_line("scenario")),
    ok("traversal-form-subject", "chatdealer-form", cd("form", subject="../../../etc/cron.d/evil"),
       check=both(chat_file_holds_the_line("forms"), one_mail(reply_to="user-sample-1@rakus.co.jp"))),
    Case("traversal-spalo-bot-name", "spalo-dataset", j(sp(botName="../../../../tmp/evil")), 200, journal=1,
         check=spalo_file_holds_the_line),
    ok("traversal-chat-id-number", "chatdealer-chat-end", raw_with("chat-end", "chat_id", b"21252"),
       check=chat_file_holds_the_line("chats")),
    ok("file-name-128-bytes", "chatdealer-chat-end", cd("chat-end", chat_id="a" * 128), check=chat_file_holds_the_line("chats")),
    refused("file-name-129-bytes", "chatdealer-chat-end", cd("chat-end", chat_id="あ" * 43), 500, "action_failed",
            "longer than 128 bytes", journal=1),
    refused("file-name-43-slashes", "chatdealer-chat-end", cd("chat-end", chat_id="/" * 43), 500, "action_failed",
            "longer than 128 bytes", journal=1),

    # --- absurd bcrypt costs and salts ------------------------------------------------------------
    *[spalo_refused(f"bcrypt-cost-{c}", sp(f"$2b${c}${SALT_AND_HASH}"), 401, f"cost {int(c)}")
      for c in ["31", "99", "13", "00", "03"]],
    spalo_refused("bcrypt-cost-31-2a", sp(f"$2a$31${SALT_AND_HASH}"), 401, "cost 31"),
    spalo_refused("bcrypt-cost-31-2y", sp(f"$2y$31${SALT_AND_HASH}"), 401, "cost 31"),
    spalo_refused("bcrypt-cost-one-digit", sp(f"$2b$4${SALT_AND_HASH}"), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-cost-letters", sp(f"$2b$1x${SALT_AND_HASH}"), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-cost-fullwidth", sp(f"$2b$３１${SALT_AND_HASH[2:]}"), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-cost-negative", sp(f"$2b$-1${SALT_AND_HASH}"), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-one-short", sp(GOOD_HASH[:-1]), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-one-long", sp(GOOD_HASH + "a"), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-salt-bad-char", sp(GOOD_HASH[:10] + "!" + GOOD_HASH[11:]), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-salt-nul", sp(GOOD_HASH[:10] + "\u0000" + GOOD_HASH[11:]), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-salt-non-ascii", sp(GOOD_HASH[:58] + "é"), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-salt-only", sp(GOOD_HASH[:29]), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-empty", sp(""), 401, "not a bcrypt hash"),
    spalo_refused("bcrypt-non-canonical-salt", sp(GOOD_HASH[:28] + {"e": "f", ".": "/"}.get(GOOD_HASH[28], ".") + GOOD_HASH[29:]),
                  401, "secretHash"),
    spalo_refused("bcrypt-last-byte", sp(last_byte_changed(GOOD_HASH)), 401, "does not match"),
    spalo_refused("bcrypt-other-secret", sp(h("not-the-secret")), 401, "does not match the client secret"),
    spalo_refused("bcrypt-secret-prefix", sp(h(CLIENT_SECRET[:-1])), 401, "does not match"),
    spalo_refused("bcrypt-cost-12-wrong", sp(h("not-the-secret", rounds=12)), 401, "does not match"),
    Case("bcrypt-cost-12-right", "spalo-dataset", j(sp(h(rounds=12))), 200, journal=1),
    spalo_refused("bcrypt-2x", sp("$2x$" + GOOD_HASH[4:]), 401, "$2a$, $2b$ or $2y$"),
    spalo_refused("bcrypt-2c", sp("$2c$" + GOOD_HASH[4:]), 401, "$2a$, $2b$ or $2y$"),
    spalo_refused("bcrypt-md5-crypt", sp("$1$saltsalt$" + "a" * 22 + "a" * 26), 401, "secretHash"),
    spalo_refused("bcrypt-sha512-crypt", sp("$6$rounds=999999999$salt$" + "a" * 34), 401, "secretHash"),
    spalo_refused("bcrypt-as-number", sp(12), 401, "secretHash must be a string"),
    spalo_refused("bcrypt-as-array", sp([GOOD_HASH]), 401, "secretHash must be a string"),
    spalo_refused("bcrypt-missing", {k: v for k, v in sp().items() if k != "secretHash"}, 401, "secretHash is missing"),

    # --- tokens and keys that differ in the last byte ---------------------------------------------
    *[refused(f"token-{n}", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 401, "unauthorized", "X-Chathooks-Token",
              kw={"token": t}) for n, t in TOKEN_VARIANTS],
    refused("token-missing", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 401, "unauthorized", "missing",
            kw={"token": None}),
    refused("token-lowercase-variable", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 401, "unauthorized", "missing",
            kw={"token": None, "extra": {"http_x_chathooks_token": TOKEN1}}),
    refused("token-in-the-query", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 401, "unauthorized", "missing",
            kw={"token": None, "extra": {"QUERY_STRING": f"X-Chathooks-Token={TOKEN1}"}}),
    refused("token-wrong-body-garbage", "chatdealer-chat-start", b"\xff\x00garbage", 401, "unauthorized",
            kw={"token": last_byte_changed(TOKEN1)}),
    spalo_refused("key-last-byte", sp(webhookKey=last_byte_changed(WEBHOOK_KEY)), 401, "webhookKey does not match"),
    spalo_refused("key-prefix", sp(webhookKey=WEBHOOK_KEY[:-1]), 401, "webhookKey does not match"),
    spalo_refused("key-extended", sp(webhookKey=WEBHOOK_KEY + "0"), 401, "webhookKey does not match"),
    spalo_refused("key-lowercase", sp(webhookKey=WEBHOOK_KEY.lower()), 401, "webhookKey does not match"),
    spalo_refused("key-trailing-newline", sp(webhookKey=WEBHOOK_KEY + "\n"), 401, "webhookKey does not match"),
    spalo_refused("key-trailing-nul", sp(webhookKey=WEBHOOK_KEY + "\u0000"), 401, "webhookKey does not match"),
    spalo_refused("key-empty", sp(webhookKey=""), 401, "webhookKey does not match"),
    spalo_refused("key-null", sp(webhookKey=None), 401, "webhookKey must be a string"),
    spalo_refused("key-number", sp(webhookKey=3), 401, "webhookKey must be a string"),
    spalo_refused("key-right-hash-of-the-key", sp(h(WEBHOOK_KEY)), 401, "does not match"),

    # --- query-as-argv (RFC 3875 §4.4) ------------------------------------------------------------
    refused("argv-check-get", "chathooks", b"", 405, "method_not_allowed", argv=("check",), check=not_the_cli,
            kw={"method": "GET", "length": None, "extra": {"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "check",
                                                           "PATH_INFO": "/chatdealer/chat-start"}}),
    ok("argv-check-post-routed", "chathooks", j(SAMPLES["chat-start"]), argv=("check", "/etc/passwd"), check=not_the_cli,
       kw={"extra": {"QUERY_STRING": "check+/etc/passwd", "PATH_INFO": "/chatdealer/chat-start"}}),
    ok("argv-retry", "chathooks", j(SAMPLES["chat-end"]), argv=("retry",), check=not_the_cli,
       kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "retry", "PATH_INFO": "/chatdealer/chat-end"}}),
    refused("argv-replay-no-path", "chathooks", j(SAMPLES["chat-end"]), 404, "not_found",
            argv=("replay", "--config", "/etc/passwd", "01ABC"), check=not_the_cli,
            kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "replay+--config+/etc/passwd+01ABC"}}),
    refused("argv-version", "chathooks", b"", 404, "not_found", argv=("--version",), check=not_the_cli,
            kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "--version"}}),
    refused("argv-help", "chathooks", b"", 404, "not_found", argv=("--help",), check=not_the_cli,
            kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "--help"}}),
    refused("argv-gateway-only", "chathooks", b"", 405, "method_not_allowed", argv=("check",), check=not_the_cli,
            kw={"method": None, "length": None, "extra": {"GATEWAY_INTERFACE": "CGI/1.1",
                                                          "PATH_INFO": "/chatdealer/form"}}),
    ok("argv-to-a-receiver", "chatdealer-chat-start", j(SAMPLES["chat-start"]), argv=("check",), check=not_the_cli,
       kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "check"}}),

    # --- PATH_INFO tricks (the routed chathooks) --------------------------------------------------
    *[refused(f"path-{n}", "chathooks", j(SAMPLES["chat-start"]), 404, "not_found", "no receiver at this path",
              kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": p}})
      for n, p in [("empty", ""), ("root", "/"), ("upper-case", "/CHATDEALER/CHAT-START"), ("extra-segment", "/chatdealer/chat-start/x"),
                   ("double-slash", "/chatdealer//chat-start"), ("nul-encoded", "/chatdealer/chat-start%00"),
                   ("newline", "/chatdealer/chat-start\n"), ("semicolon", "/chatdealer/chat-start;x=1"),
                   ("query", "/chatdealer/chat-start?x"), ("dot-segment", "/chatdealer/chat-start/."),
                   ("encoded-slash", "/chatdealer%2Fchat-start"), ("unknown-event", "/chatdealer/chat-begin"),
                   ("unknown-source", "/spalo/chat-start"), ("spalo-other-event", "/spalo/lookup"),
                   ("backslash", "/chatdealer\\chat-start"), ("100-kb", "/a" * 50_000)]],
    ok("path-trailing-slash", "chathooks", j(SAMPLES["chat-start"]),
       kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/chatdealer/chat-start//"}}),
    ok("path-prefix-ignored", "chathooks", j(SAMPLES["chat-start"]),
       kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/hooks/x/chatdealer/chat-start"}}),
    Case("path-dot-dot-to-spalo", "chathooks", b"", 200, spalo=True,
         kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/chatdealer/chat-start/../../spalo/dataset"}},
         check=lambda site, r: r.json == {"type": "dataset", "actions": []}),
    refused("path-dot-dot-keeps-auth", "chathooks", j(SAMPLES["chat-start"]), 401, "unauthorized",
            kw={"token": "wrong", "extra": {"GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/spalo/dataset/../../chatdealer/chat-start"}}),
    refused("path-script-name-fallback", "chathooks", j(SAMPLES["chat-start"]), 401, "unauthorized",
            kw={"token": None, "extra": {"GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/nope",
                                          "SCRIPT_NAME": "/hooks/chatdealer/chat-start"}}),
    refused("path-invalid-utf8", "chathooks", j(SAMPLES["chat-start"]), 404, "not_found",
            kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1"}}, bytes_env={b"PATH_INFO": b"/chatdealer/chat-start\xff"}),
    refused("path-invalid-utf8-in-the-event", "chathooks", j(SAMPLES["chat-start"]), 404, "not_found",
            kw={"extra": {"GATEWAY_INTERFACE": "CGI/1.1"}}, bytes_env={b"PATH_INFO": b"/chatdealer/chat\xc0\xadstart",
                                                                       b"REQUEST_URI": b"/x\xff\xfe"}),

    # --- methods and media types ------------------------------------------------------------------
    *[refused(f"method-{n}", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 405, "method_not_allowed",
              "POST", kw={"method": m}) for n, m in [("get", "GET"), ("lower-case", "post"), ("trailing-space", "POST "),
                                                     ("leading-space", " POST"), ("head", "HEAD"), ("put", "PUT"),
                                                     ("empty", ""), ("missing", None)]],
    refused("multipart-upper-case", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 415, "unsupported_media_type",
            "multipart", kw={"content_type": "MULTIPART/FORM-DATA; boundary=x"}),
    refused("multipart-leading-space", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 415, "unsupported_media_type",
            "multipart", kw={"content_type": " multipart/mixed"}),
    ok("form-type-json-body", "chatdealer-chat-start", j(SAMPLES["chat-start"]),
       kw={"content_type": "application/x-www-form-urlencoded"}),
    # A % not followed by two hex digits is kept as written (as the WHATWG urlencoded parser does).
    ok("form-bad-escape-kept", "chatdealer-chat-start", b"event_date=2020%2F12%2F10+15%3A29%3A08&chat_id=%ZZ",
       kw={"content_type": "application/x-www-form-urlencoded"}, check=journal_has(b'"chat_id":"%ZZ"')),
    ok("form-cut-escape-kept", "chatdealer-chat-start", b"event_date=2020%2F12%2F10+15%3A29%3A08&chat_id=%4",
       kw={"content_type": "application/x-www-form-urlencoded"}, check=journal_has(b'"chat_id":"%4"')),
    ok("encoding-identity-any-case", "chatdealer-chat-start", j(SAMPLES["chat-start"]),
       kw={"extra": {"HTTP_CONTENT_ENCODING": "IDENTITY"}}),
    refused("encoding-list", "chatdealer-chat-start", j(SAMPLES["chat-start"]), 415, "unsupported_media_type",
            kw={"extra": {"HTTP_CONTENT_ENCODING": "gzip, identity"}}),
    refused("transfer-encoding-chunked-body", "chatdealer-chat-start", b"2\r\n{}\r\n0\r\n\r\n", 400, "invalid_json",
            kw={"extra": {"HTTP_TRANSFER_ENCODING": "chunked"}}),
    refused("body-json-null", "chatdealer-chat-start", b"null", 400, "invalid_json", "must be a JSON object"),
    refused("body-two-objects", "chatdealer-chat-start", j(SAMPLES["chat-start"]) * 2, 400, "invalid_json"),
    spalo_refused("spalo-body-array", b"[]", 400, "must be a JSON object", "invalid_json"),
    Case("spalo-escaped-secret-names", "spalo-dataset",
         json.dumps(sp()).encode().replace(b'"webhookKey"', b'"webhook\\u004bey"').replace(b'"secretHash"', b'"secret\\u0048ash"'),
         200, journal=1, check=action_failed_header_clean),
    Case("spalo-form-encoded", "spalo-dataset",
         urllib.parse.urlencode({"webhookKey": WEBHOOK_KEY, "secretHash": GOOD_HASH, "event": "dataset",
                                 "eventTime": "2023-01-18 09:40:30", "botName": "../x"}).encode(),
         200, journal=1, kw={"content_type": "application/x-www-form-urlencoded"}, check=spalo_file_holds_the_line),
    Case("spalo-key-other-case-is-a-url-check", "spalo-dataset",
         j({("WebhookKey" if k == "webhookKey" else k): v for k, v in sp().items()}), 200,
         check=lambda site, r: r.json == {"type": "dataset", "actions": []}),
    Case("spalo-url-check-empty", "spalo-dataset", b"", 200, check=lambda site, r: r.json == {"type": "dataset", "actions": []}),
]



# --- many small things: no quadratic work -------------------------------------------------------
CASES_LATE = [
    ok("many-keys-1m", "chatdealer-chat-start",
       lambda: b'{"event_date":"2020/12/10 15:29:08","chat_id":"1",' + b",".join(b'"k%d":0' % i for i in range(1_000_000)) + b"}", timeout=BIG_TIMEOUT),
    refused("many-keys-1m-last-duplicate", "chatdealer-chat-start",
            lambda: b'{"event_date":"2020/12/10 15:29:08","chat_id":"1",' + b",".join(b'"k%d":0' % i for i in range(1_000_000))
            + b',"k0":1}', 400, "invalid_json", 'duplicate key "k0"', timeout=BIG_TIMEOUT),
    ok("many-escapes-2m", "chatdealer-chat-start", lambda: raw_with("chat-start", "memo", b'"' + b"\\u3042" * 2_000_000 + b'"'), timeout=BIG_TIMEOUT),
    ok("many-empty-arrays-2m", "chatdealer-chat-start", lambda: raw_with("chat-start", "memo", b"[" + b",".join([b"[]"] * 2_000_000) + b"]"), timeout=BIG_TIMEOUT),
]

ALL_CASES = CASES + CASES_LATE
assert len({c.name for c in ALL_CASES}) == len(ALL_CASES), "case names must be unique"


def run_case(site: Site, case: Case, bin_dir: Path = BIN_DIR):
    body = case.body() if callable(case.body) else case.body  # the big ones are made when run
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = j(body)
    kw = dict(case.kw)
    kw.setdefault("length", len(body))
    env = site.env(**kw)
    if case.bytes_env:
        env = {k.encode(): v.encode() for k, v in env.items()}
        env.update(case.bytes_env)
    proc = subprocess.Popen([str(bin_dir / case.handler), *case.argv], env=env, cwd=site.root,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if case.mode == "run":
            out, err = proc.communicate(body, timeout=case.timeout)
        else:
            sent = {"truncated": body[:len(body) // 2], "truncated-at-0": b"",
                    "slow-truncated": body[:len(body) // 2]}.get(case.mode, body)
            step = max(1, len(sent) // 8)
            for i in range(0, len(sent), step):
                proc.stdin.write(sent[i:i + step])
                proc.stdin.flush()
                if case.mode.startswith("slow"):
                    time.sleep(0.05)
            proc.stdin.close()
            proc.stdin = None
            out, err = proc.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{case.name}: no answer within {case.timeout} s")
    except BrokenPipeError:
        proc.stdin = None
        out, err = proc.communicate(timeout=CASE_TIMEOUT)
    assert proc.returncode == 0, f"exit status {proc.returncode} (negative: killed by that signal); stderr: {err[-2000:]!r}"
    return site.result(proc.returncode, out, err)  # a complete CGI response, or AssertionError


def files_under(folder: Path):
    return {p for p in folder.rglob("*")}


def case_param(c):
    marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
    return pytest.param(c, id=c.name, marks=marks)




PROGRAMS = sorted({c.handler for c in ALL_CASES})


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory):
    """The executables, copied once: a fresh build may replace .build/release mid-run."""
    import shutil
    missing = [p for p in PROGRAMS if not (BIN_DIR / p).exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {BIN_DIR}")
    target = tmp_path_factory.mktemp("hostile-bin")
    for p in PROGRAMS:
        shutil.copy2(BIN_DIR / p, target / p)
    return target


@pytest.mark.parametrize("case", [case_param(c) for c in ALL_CASES])
def test_hostile_cgi_request(tmp_path, bin_dir, case):
    site = make_site(tmp_path / "site")
    before = files_under(tmp_path)
    result = run_case(site, case, bin_dir)

    # Status, error code, message.
    assert result.status == case.status, (result.status, result.body[:500])
    assert set(result.headers) <= RESPONSE_HEADERS, f"unexpected response headers {sorted(result.headers)}"
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    if case.spalo if case.spalo is not None else case.handler == "spalo-dataset":
        if case.status >= 400 and not (case.status == 400 and case.journal):
            assert list(body) == ["type", "text"] and body["type"] == "text", body
            assert result.headers.get("x-chathooks-error") == case.code, result.headers
            if case.message:  # SPALO's text is for the bot user and says nothing: the log line names the problem
                assert case.message in result.stderr and case.message not in body["text"], (body["text"], result.stderr)
        else:
            assert body["type"] == "dataset", body
    elif case.status < 300:
        assert body["ok"] is True, body
    else:
        assert body["ok"] is False, body
        if case.code:
            assert body["error"] == case.code, body
        if case.message:
            assert case.message in body["message"], body["message"][:500]
    if case.status == 405:
        assert result.headers["allow"] == "POST"

    # The journal: nothing for a refusal, one whole line for an accepted event.
    lines = journal_lines(site)
    assert len(lines) == case.journal, f"{len(lines)} journal lines, expected {case.journal}"
    for line in lines:
        record = json.loads(line)
        assert "webhookKey" not in record["payload"] and "secretHash" not in record["payload"]

    # Nothing written outside data/ (nor the fake sendmail's mailbox/), no link out of it.
    created = files_under(tmp_path) - before
    for p in created:
        rel = p.relative_to(site.root)
        assert rel.parts[0] in ("data", "mailbox"), f"{p} was created outside data/"
        assert not p.is_symlink(), p
        assert p.resolve().is_relative_to(site.root.resolve()), p

    # Every mail: the configured recipient only, headers that are headers.
    for argv, raw, msg in mails(site):
        assert argv == ["-i", "-f", "noreply@example.jp", "--", MAIL_TO], argv
        check_mail_headers(raw)
    if case.status >= 400 or case.journal == 0:
        assert not mails(site), "a refused request sent a mail"

    # No secret, nor the token presented, in the response, the error log, the journal or a file.
    texts = {"response": result.stdout, "error log": result.stderr.encode()}
    for p in created:
        if p.is_file() and p.stat().st_size < 64 << 20:
            texts[str(p.relative_to(site.root))] = p.read_bytes()
    presented = case.kw.get("token")
    for secret in [TOKEN1, TOKEN2, WEBHOOK_KEY, CLIENT_SECRET, GOOD_HASH] + ([presented] if presented and len(presented) > 8 else []):
        for where, text in texts.items():
            assert secret.encode() not in text, f"{secret!r} is in the {where}"

    # The error log: only our own lines (no line forged from request text).
    for line in result.stderr.splitlines():
        assert line.startswith("chathooks: "), f"foreign error-log line {line[:200]!r}"
    if case.status >= 400 and case.code != "action_failed" and case.journal == 0:
        assert len(result.stderr.splitlines()) == 1, result.stderr[:2000]

    if case.check:
        case.check(site, result)


# === FastCGI: malformed records to one spawn-fcgi'd `chathooks` ===================================

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR, GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 1, 2, 3, 4, 5, 6, 7, 9, 10, 11
FASTCGI_TIMEOUT = 2  # CHATHOOKS_FASTCGI_TIMEOUT for the process: a stalled peer is dropped after this
ANSWER_WAIT = 8      # seconds a test waits for any answer (more than FASTCGI_TIMEOUT)


def rec(kind, content=b"", rid=1, version=1, length=None, padding=None, pad_bytes=None):
    """One record; `length`/`padding` may lie about what follows."""
    pad = (8 - len(content) % 8) % 8 if padding is None else padding
    head = struct.pack(">BBHHBB", version, kind, rid, len(content) if length is None else length, pad, 0)
    return head + content + (b"\0" * pad if pad_bytes is None else pad_bytes)


def nv(name: bytes, value: bytes, name_len=None, value_len=None):
    def size(n, forced):
        if forced is not None:
            return struct.pack(">I", forced | 0x80000000)
        return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
    return size(len(name), name_len) + size(len(value), value_len) + name + value


def begin(rid=1, role=1, flags=0):
    return rec(BEGIN, struct.pack(">HB5x", role, flags), rid)


def params_records(params: dict, rid=1):
    data = b"".join(nv(k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str) else v)
                    for k, v in params.items())
    out = b"".join(rec(PARAMS, data[i:i + 65535], rid) for i in range(0, len(data), 65535))
    return out + rec(PARAMS, b"", rid)


def stdin_records(body: bytes, rid=1, end=True):
    out = b"".join(rec(STDIN, body[i:i + 65535], rid) for i in range(0, len(body), 65535))
    return out + (rec(STDIN, b"", rid) if end else b"")


def cgi_params(site, event="chat-start", body=b"", **over):
    p = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "SCRIPT_NAME": f"/hooks/chatdealer/{event}",
         "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
         "HTTP_X_CHATHOOKS_TOKEN": TOKEN1, "REMOTE_ADDR": "127.0.0.1", "CHATHOOKS_CONFIG": str(site.config_path)}
    p.update(over)
    return {k: v for k, v in p.items() if v is not None}


def full_request(site, body=None, rid=1, flags=0, event="chat-start", **over):
    body = j(SAMPLES[event]) if body is None else body
    return begin(rid, flags=flags) + params_records(cgi_params(site, event, body, **over), rid) + stdin_records(body, rid)


class Answer:
    def __init__(self, records, closed):
        self.records = records  # [(type, request id, content)]
        self.closed = closed
        self.stdout = b"".join(c for t, _, c in records if t == STDOUT)
        self.stderr = b"".join(c for t, _, c in records if t == STDERR)
        record_evidence("fastcgi-stdout", self.stdout)  # for Tests/zz_secrets
        record_evidence("fastcgi-stderr", self.stderr)

    def types(self):
        return [t for t, _, _ in self.records]

    @property
    def status(self):
        return parse_cgi(self.stdout)[0] if self.stdout else None


def exchange(sock_path, data: bytes, *, stall=False, wait=ANSWER_WAIT):
    """Sends `data` on a new connection and reads records until the process
    closes it, ends the request, or `wait` seconds pass. With `stall`, the
    connection is left open and returned (the peer goes quiet)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    s.connect(str(sock_path))
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    if stall:
        return s
    try:
        s.shutdown(socket.SHUT_WR)  # all sent: the process sees the end of it at once
    except OSError:
        pass
    records, buffer, closed = [], b"", False
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buffer += chunk
            while len(buffer) >= 8:
                _, kind, rid, length, padding, _ = struct.unpack(">BBHHBB", buffer[:8])
                if len(buffer) < 8 + length + padding:
                    break
                records.append((kind, rid, buffer[8:8 + length]))
                buffer = buffer[8 + length + padding:]
                if kind == END:
                    return Answer(records, closed)
    finally:
        s.close()
    return Answer(records, closed)


@pytest.fixture(scope="module")
def fastcgi(tmp_path_factory):
    """One `chathooks` process on a Unix socket, as spawn-fcgi starts it (as
    www-data when the tests run as root), for every FastCGI case."""
    import shutil
    import tempfile
    from stack import find, keep_evidence, service_user
    if not (BIN_DIR / "chathooks").exists():
        pytest.fail(f"chathooks not built in {BIN_DIR}")
    top = Path(tempfile.mkdtemp(prefix="chathooks-hostile-fcgi-"))  # reachable by www-data, unlike pytest's tmp
    os.chmod(top, 0o755)
    site = make_site(top / "site")
    os.chmod(site.root, 0o755)
    for sub in ("logs", "sock"):
        (site.root / sub).mkdir()
    shutil.copy2(BIN_DIR / "chathooks", site.root / "bin" / "chathooks")  # a rebuild cannot swap it mid-module
    user = service_user()
    argv = [find("spawn-fcgi"), "-n", "-s", str(site.root / "sock" / "chathooks.sock"), "-M", "0600"]
    if user:
        for sub in ("data", "logs", "sock", "mailbox"):
            (site.root / sub).mkdir(exist_ok=True)
            os.chown(site.root / sub, user.pw_uid, user.pw_gid)
        os.chown(site.root / "data" / "blocked", user.pw_uid, user.pw_gid)
        argv += ["-u", user.pw_name, "-g", user.pw_name, "-U", user.pw_name, "-G", user.pw_name]
    env = {"PATH": "/usr/bin:/bin", "TZ": "JST-9", "CD_TOKEN2": TOKEN2, "CHATHOOKS_CONFIG": str(site.config_path),
           "CHATHOOKS_FASTCGI_TIMEOUT": str(FASTCGI_TIMEOUT)}
    log = open(site.root / "logs" / "spawn-fcgi.log", "ab")
    proc = subprocess.Popen(argv + ["--", str(site.root / "bin" / "chathooks")], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, env=env, start_new_session=True)
    sock = site.root / "sock" / "chathooks.sock"
    deadline = time.monotonic() + 15
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, (site.root / "logs" / "spawn-fcgi.log").read_text()
        time.sleep(0.02)
    site.fcgi_proc, site.sock = proc, sock
    try:
        yield site
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        keep_evidence("hostile-fastcgi", site.root)
        shutil.rmtree(top, ignore_errors=True)


def _records_claiming(n):
    return struct.pack(">BBHHBB", 1, PARAMS, 1, n, 0, 0)


@dataclass
class FCase:
    name: str
    build: object            # site -> bytes
    stall: bool = False      # leave the connection open, silent
    status: int | None = None  # the status of an answer, when the case makes a whole request
    journal: int = 0         # journal lines the case itself adds
    types: tuple | None = None  # record types the answer must hold (management records)
    proto: int | None = None   # END_REQUEST's protocolStatus, when the case expects one
    xfail: str | None = None


BAD_PARAMS_TAIL = lambda site: stdin_records(b"{}")  # noqa: E731

FCASES = [
    FCase("truncated-header", lambda s: b"\x01\x01\x00"),
    FCase("truncated-header-then-silence", lambda s: b"\x01\x01\x00", stall=True),
    FCase("begin-then-silence", lambda s: begin(), stall=True),
    FCase("half-params-then-silence", lambda s: begin() + params_records(cgi_params(s))[:30], stall=True),
    FCase("half-body-then-silence", lambda s: full_request(s)[:-40], stall=True),
    FCase("version-2", lambda s: rec(BEGIN, struct.pack(">HB5x", 1, 0), version=2) + params_records(cgi_params(s))),
    FCase("version-0", lambda s: rec(BEGIN, struct.pack(">HB5x", 1, 0), version=0) + params_records(cgi_params(s))),
    FCase("http-request-on-the-socket", lambda s: b"POST /hooks/chatdealer/chat-start HTTP/1.1\r\nHost: x\r\n\r\n{}"),
    FCase("random-bytes", lambda s: bytes((i * 7919 + 13) % 256 for i in range(4096))),
    FCase("all-zero-bytes", lambda s: b"\0" * 4096),
    FCase("unknown-management-record", lambda s: rec(99, b"x" * 8, rid=0), types=(UNKNOWN_TYPE,)),
    FCase("get-values", lambda s: rec(GET_VALUES, nv(b"FCGI_MAX_CONNS", b"") + nv(b"FCGI_MPXS_CONNS", b""), rid=0),
          types=(GET_VALUES_RESULT,)),
    FCase("get-values-lying-lengths", lambda s: rec(GET_VALUES, nv(b"FCGI_MAX_CONNS", b"", name_len=0x7FFFFFF0), rid=0)),
    FCase("role-filter", lambda s: begin(role=3) + params_records(cgi_params(s)) + stdin_records(b"{}"), types=(END,)),
    FCase("role-authorizer", lambda s: begin(role=2) + params_records(cgi_params(s)), types=(END,)),
    FCase("role-authorizer-whole-request", lambda s: begin(role=2) + params_records(cgi_params(s, body=j(SAMPLES["chat-start"])))
          + stdin_records(j(SAMPLES["chat-start"])), types=(END,), proto=3),
    FCase("role-filter-whole-request", lambda s: begin(role=3) + params_records(cgi_params(s, body=j(SAMPLES["chat-start"])))
          + stdin_records(j(SAMPLES["chat-start"])) + rec(8, b""), types=(END,), proto=3),
    FCase("role-zero", lambda s: begin(role=0) + params_records(cgi_params(s))),
    FCase("begin-too-short", lambda s: rec(BEGIN, b"\x00\x01") + params_records(cgi_params(s))),
    FCase("begin-claims-65535-sends-8", lambda s: rec(BEGIN, struct.pack(">HB5x", 1, 0), length=65535)),
    FCase("padding-255-not-sent", lambda s: rec(BEGIN, struct.pack(">HB5x", 1, 0), padding=255, pad_bytes=b"")),
    FCase("params-claims-65535-sends-10", lambda s: begin() + _records_claiming(65535) + b"x" * 10),
    FCase("params-name-length-2g", lambda s: begin() + rec(PARAMS, nv(b"A", b"B", name_len=0x7FFFFFFF)) + rec(PARAMS)
          + BAD_PARAMS_TAIL(s)),
    FCase("params-value-length-2g", lambda s: begin() + rec(PARAMS, nv(b"CONTENT_LENGTH", b"2", value_len=0x7FFFFFFF))
          + rec(PARAMS) + BAD_PARAMS_TAIL(s)),
    FCase("params-both-lengths-2g", lambda s: begin() + rec(PARAMS, nv(b"A", b"B", name_len=0x7FFFFFFF, value_len=0x7FFFFFFF))
          + rec(PARAMS) + BAD_PARAMS_TAIL(s)),
    FCase("params-length-beyond-the-record", lambda s: begin() + rec(PARAMS, b"\x80\x00\x01\x00\x05abc") + rec(PARAMS)
          + BAD_PARAMS_TAIL(s)),
    FCase("params-lengths-only", lambda s: begin() + rec(PARAMS, b"\x05") + rec(PARAMS) + BAD_PARAMS_TAIL(s)),
    FCase("params-empty-name", lambda s: begin() + params_records({**cgi_params(s, body=b"{}"), "": "x"}) + stdin_records(b"{}"),
          status=400),
    FCase("params-20000", lambda s: begin() + params_records({**cgi_params(s, body=b"{}"), **{f"X_{i}": "v" for i in range(20000)}})
          + stdin_records(b"{}"), status=400),
    FCase("params-one-megabyte-value", lambda s: begin() + params_records({**cgi_params(s, body=b"{}"), "X_BIG": "v" * (1 << 20)})
          + stdin_records(b"{}"), status=400),
    FCase("params-nul-in-a-name", lambda s: begin() + params_records({**cgi_params(s, body=b"{}", HTTP_X_CHATHOOKS_TOKEN=None),
                                                                      b"HTTP_X_CHATHOOKS_TOKEN\0x": TOKEN1.encode()})
          + stdin_records(b"{}"), status=401),
    FCase("params-invalid-utf8-path", lambda s: begin() + params_records({**cgi_params(s, body=b"{}", SCRIPT_NAME=None),
                                                                          "SCRIPT_NAME": b"/hooks/chatdealer/chat-start\xff"})
          + stdin_records(b"{}"), status=404),
    FCase("params-twice-content-length", lambda s: begin() + params_records(cgi_params(s, body=b"{}")) [:-8]
          + rec(PARAMS, nv(b"CONTENT_LENGTH", b"99999999999")) + rec(PARAMS) + stdin_records(b"{}")),
    FCase("request-id-reused", lambda s: begin() + rec(PARAMS, nv(b"REQUEST_METHOD", b"POST")) + begin()
          + params_records(cgi_params(s, body=b"{}")) + stdin_records(b"{}")),
    FCase("second-request-id-interleaved", lambda s: begin(1) + begin(2) + params_records(cgi_params(s, body=b"{}"), 2)
          + params_records(cgi_params(s, body=b"{}"), 1) + stdin_records(b"{}", 2) + stdin_records(b"{}", 1)),
    FCase("request-id-zero-begin", lambda s: begin(0) + params_records(cgi_params(s, body=b"{}"), 0) + stdin_records(b"{}", 0)),
    FCase("stdin-before-params", lambda s: begin() + stdin_records(j(SAMPLES["chat-start"]), end=False)
          + params_records(cgi_params(s, body=j(SAMPLES["chat-start"]))) + rec(STDIN)),
    FCase("params-never-ended", lambda s: begin() + rec(PARAMS, b"".join(nv(k.encode(), v.encode()) for k, v in
                                                                         cgi_params(s, body=b"{}").items())) + stdin_records(b"{}")),
    FCase("no-begin", lambda s: params_records(cgi_params(s, body=b"{}")) + stdin_records(b"{}")),
    FCase("stdin-for-another-id", lambda s: begin() + params_records(cgi_params(s, body=b"{}")) + stdin_records(b"{}", rid=7)
          + stdin_records(b"{}")),
    FCase("abort-mid-body", lambda s: begin() + params_records(cgi_params(s, body=j(SAMPLES["chat-start"])))
          + rec(STDIN, j(SAMPLES["chat-start"])[:20]) + rec(ABORT)),
    FCase("stdout-record-from-the-peer", lambda s: begin() + rec(STDOUT, b"Status: 200 OK\r\n\r\n") + params_records(cgi_params(s))),
    FCase("end-request-from-the-peer", lambda s: rec(END, b"\0" * 8) + full_request(s)),
    # Whole requests whose CGI meta-variables lie.
    FCase("content-length-longer-than-stdin", lambda s: full_request(s, CONTENT_LENGTH=str(len(j(SAMPLES["chat-start"])) + 100)),
          status=400),
    FCase("content-length-shorter-than-stdin", lambda s: full_request(s, CONTENT_LENGTH="10"), status=400),
    FCase("content-length-absurd", lambda s: full_request(s, CONTENT_LENGTH="9" * 40), status=413),
    FCase("content-length-negative", lambda s: full_request(s, CONTENT_LENGTH="-1"), status=400),
    FCase("stdin-declares-more-than-sent", lambda s: full_request(s)[:-8][:-16]),
    FCase("stdin-never-ended", lambda s: full_request(s)[:-8], status=200, journal=1),
    FCase("keep-conn-two-requests", lambda s: full_request(s, flags=1) + full_request(s, flags=1), status=200, journal=1),
    FCase("path-dot-dot", lambda s: full_request(s, SCRIPT_NAME="/hooks/chatdealer/chat-start/../../x"), status=404),
    FCase("wrong-token", lambda s: full_request(s, HTTP_X_CHATHOOKS_TOKEN=last_byte_changed(TOKEN1)), status=401),
    FCase("valid-spalo-cost-31", lambda s: full_request(s, body=j(sp(f"$2b$31${SALT_AND_HASH}")), SCRIPT_NAME="/hooks/spalo/dataset"),
          status=401),
]


def valid_request_succeeds(site, label):
    before = len(journal_lines(site))
    answer = exchange(site.sock, full_request(site, body=j(cd("chat-start", chat_id=f"after-{label}"))))
    assert answer.status == 200, (label, answer.types(), answer.stdout[:300], answer.stderr[:300])
    assert len(journal_lines(site)) == before + 1
    assert json.loads(journal_lines(site)[-1])["payload"]["chat_id"] == f"after-{label}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)]
                                               if c.xfail else []) for c in FCASES])
def test_malformed_fastcgi_records(fastcgi, case):
    site = fastcgi
    pid = site.fcgi_proc.pid
    before = len(journal_lines(site))
    data = case.build(site)
    if case.stall:
        stalled = exchange(site.sock, data, stall=True)
        try:
            # The stalled peer is dropped after FASTCGI_TIMEOUT; meanwhile the next
            # request waits (one process), then is answered.
            valid_request_succeeds(site, case.name)
        finally:
            stalled.close()
    else:
        answer = exchange(site.sock, data)
        if answer.stdout:
            status = answer.status  # a whole CGI response, or AssertionError
            if case.status is not None:
                assert status == case.status, (status, answer.stdout[:300])
            else:
                assert status != 200, "garbage was accepted"
        else:
            assert case.status is None, f"no answer; records {answer.types()}"
        for kind in case.types or ():
            assert kind in answer.types(), answer.types()
        if case.proto is not None:
            [end] = [c for t, _, c in answer.records if t == END]
            assert end[4] == case.proto, f"protocolStatus {end[4]}, expected {case.proto}"
        for line in answer.stderr.decode("utf-8", "replace").splitlines():
            assert line.startswith("chathooks: "), line[:200]
        assert len(journal_lines(site)) == before + case.journal
        valid_request_succeeds(site, case.name)
    assert site.fcgi_proc.poll() is None, f"the FastCGI process died: {site.fcgi_proc.returncode}"
    assert site.fcgi_proc.pid == pid
