"""The web console (issue #13) as CGI, through the built `chathooks`: off
unless configured, login and its throttle, sessions, CSRF and Origin, the
headers, paging and search over the journal, the repairs. The same console
in a real browser through Apache and nginx: Tests/console."""
import csv
import io
import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import bcrypt
import pytest

from cgi_site import BIN_DIR, CLIENT_SECRET, TOKEN1, TOKEN2, WEBHOOK_KEY, Site
from stack import record_evidence

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "samples"
PASSWORD = "console-password-0123"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
HOST = "127.0.0.1:8080"
ORIGIN = "http://" + HOST

CONFIG = """{
  journal: { path: "data/journal.jsonl", fsync: false },
  chatdealer: {
    auth: { header: "X-Chathooks-Token", tokens: ["%(token)s"] },
    events: {
      "chat-start": {},
      "chat-message": {},
      "chat-end": { actions: [ { type: "append", path: "data/chats/{chat_id}.jsonl" } ] },
      "scenario": {},
      "form": { actions: [
        { type: "append", path: "data/forms.jsonl" },
        { type: "mail", to: ["ops@example.jp"], from: "bot@example.jp", sendmail: "%(sendmail)s", timeout: 2 },
      ] },
    },
  },
  %(admin)s
}
"""


def make_site(tmp_path, admin=None, sendmail="/nonexistent/sendmail"):
    admin_block = "" if admin is False else (admin or f'admin: {{ passwordHash: "{HASH}" }},')
    return Site(tmp_path / "site", config_text=CONFIG % {"token": TOKEN1, "admin": admin_block, "sendmail": sendmail})


class Console:
    """Requests to chathooks.cgi/admin/… as Apache's mod_cgi would make them."""

    def __init__(self, site):
        self.site = site
        self.cookie = None

    def request(self, method, page, body=b"", query="", origin=ORIGIN, cookie=None, remote="127.0.0.1", extra=None):
        env = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SCRIPT_NAME": "/c/chathooks.cgi",
            "PATH_INFO": "/admin" + page,
            "QUERY_STRING": query,
            "REQUEST_URI": "/c/chathooks.cgi/admin" + page + ("?" + query if query else ""),
            "HTTP_HOST": HOST,
            "REMOTE_ADDR": remote,
        }
        if origin:
            env["HTTP_ORIGIN"] = origin
        cookie = self.cookie if cookie is None else cookie
        if cookie:
            env["HTTP_COOKIE"] = "other=1; chathooks_session=" + cookie
        env.update(extra or {})
        if isinstance(body, dict):
            from urllib.parse import urlencode
            body = urlencode(body).encode()
        proc = self.site.start("chathooks", body, method=method, token=None,
                               content_type="application/x-www-form-urlencoded", extra=env)
        return Site.finish(proc)

    def login(self, password=PASSWORD, **kw):
        r = self.request("POST", "/login", {"password": password}, **kw)
        m = re.search(r"chathooks_session=([0-9a-f]*)", r.headers.get("set-cookie", ""))
        if r.status == 303 and m:
            self.cookie = m.group(1)
        return r

    def csrf(self, page="/problems", query=""):
        r = self.request("GET", page, query=query)
        assert r.status == 200, r.body[:300]
        return re.search(rb'name="csrf" value="([0-9a-f]+)"', r.body).group(1).decode()


def post_event(site, name, payload=None):
    body = payload if payload is not None else json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    r = site.run("chatdealer-" + name, body)
    assert r.status in (200, 202), r.body  # 202: a mail spooled
    return r.json["id"]


def rejections(site):
    p = site.root / "data" / "rejections.jsonl"
    return [json.loads(l) for l in p.read_text().splitlines()] if p.exists() else []


def rows(body, cls):
    return re.findall(rb'<tr class="%s">(.*?)</tr>' % cls.encode(), body, re.S)


# --- off unless configured ---------------------------------------------------

def test_console_is_404_without_an_admin_block(tmp_path):
    site = make_site(tmp_path, admin=False)
    c = Console(site)
    for method, page in [("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/style.css"), ("GET", "")]:
        r = c.request(method, page, {"password": PASSWORD} if method == "POST" else b"")
        assert r.status == 404, (page, r.status)
        assert r.json["error"] == "not_found"
    # The same answer as any unknown path: nothing says a console exists.
    other = c.request("GET", "/../nothing-here")
    assert other.status == 404


def test_a_broken_admin_block_stops_the_console_not_the_receivers(tmp_path):
    site = make_site(tmp_path, admin='admin: { passwordHash: "not-a-hash" },')
    check = subprocess.run([str(BIN_DIR / "chathooks"), "check", str(site.config_path)], capture_output=True, text=True, timeout=10)
    assert check.returncode == 1 and "admin.passwordHash" in check.stderr and "chathooks passwd" in check.stderr
    assert post_event(site, "chat-start")
    r = Console(site).request("GET", "/login")
    assert r.status == 503 and b"chathooks check" in r.body


def test_a_hash_too_costly_is_refused_by_check(tmp_path):
    costly = bcrypt.hashpw(b"x" * 12, bcrypt.gensalt(13)).decode()
    site = make_site(tmp_path, admin=f'admin: {{ passwordHash: "{costly}" }},')
    check = subprocess.run([str(BIN_DIR / "chathooks"), "check", str(site.config_path)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 1 and "bcrypt cost 13" in check.stderr


# --- login, throttle ---------------------------------------------------------

def test_security_headers_on_every_page(tmp_path):
    site = make_site(tmp_path)
    c = Console(site)
    pages = [("GET", "/login"), ("POST", "/login")]
    for method, page in pages:
        r = c.request(method, page, {"password": "wrong-one"} if method == "POST" else b"")
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script at all
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
    assert c.login().status == 303
    post_event(site, "form")
    for page in ["/", "/events", "/problems", "/rejections"]:
        r = c.request("GET", page)
        assert r.status == 200, page
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert b"<script" not in r.body and b" style=" not in r.body and b"onload" not in r.body


def test_login_sets_a_strict_cookie_and_stores_no_token(tmp_path):
    site = make_site(tmp_path)
    c = Console(site)
    r = c.login()
    assert r.status == 303 and r.headers["location"] == "./"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/c/chathooks.cgi/admin/" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    sessions = list((site.root / "data" / "console" / "sessions").iterdir())
    assert len(sessions) == 1
    assert c.cookie not in sessions[0].name and c.cookie.encode() not in sessions[0].read_bytes()
    assert oct(sessions[0].stat().st_mode & 0o777) == "0o600"
    # Under HTTPS the cookie is Secure.
    r = Console(site).login(extra={"HTTPS": "on"}, origin="https://" + HOST)
    assert r.status == 303 and "Secure" in r.headers["set-cookie"]


def test_wrong_password_is_401_and_a_rejection(tmp_path):
    site = make_site(tmp_path)
    r = Console(site).login("typed-guess-4711")
    assert r.status == 401 and "パスワードが違います".encode() in r.body
    assert "set-cookie" not in r.headers
    lines = [x for x in rejections(site) if x["route"] == "admin/login"]
    assert lines and lines[-1]["status"] == 401
    assert "typed-guess-4711" not in (site.root / "data" / "rejections.jsonl").read_text()


def test_sixth_try_is_locked_out_even_with_the_right_password(tmp_path):
    site = make_site(tmp_path)
    c = Console(site)
    for i in range(5):
        assert c.login(f"wrong-{i}", remote="198.51.100.9", extra={"HTTPS": "on"}, origin="https://" + HOST).status == 401
    r = c.login(remote="198.51.100.9", extra={"HTTPS": "on"}, origin="https://" + HOST)
    assert r.status == 429 and int(r.headers["retry-after"]) > 0
    assert [x["status"] for x in rejections(site) if x["route"] == "admin/login"][-1] == 429
    # Another address is not locked by this one.
    assert Console(site).login().status == 303


def test_twenty_failures_lock_every_address(tmp_path):
    site = make_site(tmp_path)
    for i in range(20):
        # Four failures each from five addresses: none is locked alone.
        r = Console(site).login("nope", remote=f"192.0.2.{i // 4 + 1}", extra={"HTTPS": "on"}, origin="https://" + HOST)
        assert r.status == 401, i
    assert Console(site).login().status == 429


def test_login_needs_our_origin(tmp_path):
    site = make_site(tmp_path)
    assert Console(site).login(origin=None).status == 403
    r = Console(site).login(origin="https://evil.example")
    assert r.status == 403 and b"Origin" in r.body
    assert not (site.root / "data" / "console" / "sessions").exists()


def test_origin_is_compared_by_scheme_host_and_port(tmp_path):
    site = make_site(tmp_path)
    # Debian's nginx passes Host without its port: SERVER_PORT says it.
    nginx = {"HTTP_HOST": "127.0.0.1", "SERVER_PORT": "8080"}
    assert Console(site).login(extra=nginx).status == 303
    for origin in ["http://127.0.0.1:9999", "https://127.0.0.1:8080", "http://127.0.0.1.evil.example:8080",
                   "http://evil.example@127.0.0.1:8080", "http://127.0.0.1:8080/x", "null"]:
        assert Console(site).login(extra=nginx, origin=origin).status == 403, origin
    # The default ports need not be written.
    assert Console(site).login(extra={"HTTP_HOST": "localhost", "SERVER_PORT": "443", "HTTPS": "on"}, origin="https://LOCALHOST").status == 303


def test_origin_null_counts_only_with_the_browsers_same_origin_mark(tmp_path):
    """Our pages' Referrer-Policy: no-referrer makes a browser send Origin: null
    for their own forms; Sec-Fetch-Site (which no page can set) tells."""
    site = make_site(tmp_path)
    assert Console(site).login(origin="null", extra={"HTTP_SEC_FETCH_SITE": "same-origin"}).status == 303
    for fetch_site in [None, "cross-site", "same-site", "none"]:
        extra = {"HTTP_SEC_FETCH_SITE": fetch_site} if fetch_site else {}
        assert Console(site).login(origin="null", extra=extra).status == 403, fetch_site


def test_plain_http_login_from_afar_is_refused(tmp_path):
    site = make_site(tmp_path)
    r = Console(site).login(remote="203.0.113.50")
    assert r.status == 403 and b"HTTPS" in r.body
    site2 = make_site(tmp_path / "b", admin=f'admin: {{ passwordHash: "{HASH}", allowPlainHTTP: true }},')
    assert Console(site2).login(remote="203.0.113.50").status == 303


# --- sessions, CSRF ----------------------------------------------------------

def test_pages_need_a_session(tmp_path):
    site = make_site(tmp_path)
    c = Console(site)
    for page in ["/", "/events", "/event", "/problems", "/rejections", "/export.csv"]:
        r = c.request("GET", page)
        assert r.status == 303 and r.headers["location"] == "login", page
    for page in ["/replay", "/retry", "/logout"]:
        assert c.request("POST", page, {"csrf": "0" * 64}).status == 403, page
    assert c.request("GET", "/events", cookie="f" * 64).status == 303
    assert c.request("GET", "/events", cookie="../../etc/passwd").status == 303


def test_csrf_token_and_origin_are_required_for_every_post(tmp_path):
    site = make_site(tmp_path)
    event = post_event(site, "form")
    c = Console(site)
    c.login()
    token = c.csrf()
    outcomes = site.root / "data" / "outcomes.jsonl"
    before = outcomes.read_text().count("\n")
    for body, origin in [({"id": event}, ORIGIN), ({"id": event, "csrf": "0" * 64}, ORIGIN),
                         ({"id": event, "csrf": token}, "https://evil.example"), ({"id": event, "csrf": token}, None)]:
        r = c.request("POST", "/replay", body, origin=origin)
        assert r.status == 403, (body, origin)
    assert outcomes.read_text().count("\n") == before  # nothing ran
    # Another session's token is not this one's.
    other = Console(site)
    other.login()
    assert c.request("POST", "/replay", {"id": event, "csrf": other.csrf()}).status == 403
    r = c.request("POST", "/replay", {"id": event, "csrf": token, "only": "append"})
    assert r.status == 303 and r.headers["location"].startswith("event?id=" + event)
    last = json.loads(outcomes.read_text().splitlines()[-1])
    assert last["run"] == "replay" and [a["type"] for a in last["actions"]] == ["append"]
    # The page after shows the result once, from the session (never from the URL).
    page = c.request("GET", "/event", query=r.headers["location"].split("?", 1)[1])
    assert b'id="notice"' in page.body and "すべて成功".encode() in page.body
    assert b'id="notice"' not in c.request("GET", "/event", query=f"id={event}&notice=fake").body


def test_an_idle_session_expires(tmp_path):
    site = make_site(tmp_path)
    c = Console(site)
    c.login()
    token = c.csrf()
    folder = site.root / "data" / "console" / "sessions"
    past = time.time() - 9 * 3600
    for f in folder.iterdir():
        os.utime(f, (past, past))
    assert c.request("GET", "/events").status == 303
    assert c.request("POST", "/retry", {"csrf": token}).status == 403
    assert not list(folder.iterdir())  # the expired session was removed


def test_logout_ends_the_session(tmp_path):
    site = make_site(tmp_path)
    c = Console(site)
    c.login()
    token = c.csrf()
    r = c.request("POST", "/logout", {"csrf": token})
    assert r.status == 303 and r.headers["location"] == "login" and "Max-Age=0" in r.headers["set-cookie"]
    assert c.request("GET", "/").status == 303


# --- the journal, read back --------------------------------------------------

def test_events_page_paging_and_filters(tmp_path):
    site = make_site(tmp_path)
    ids = []
    for i in range(57):
        payload = json.loads((SAMPLES / "chat-start.json").read_text(encoding="utf-8"))
        payload["chat_id"] = str(1000 + i)
        ids.append(post_event(site, "chat-start", payload))
    form = post_event(site, "form")
    c = Console(site)
    c.login()
    first = c.request("GET", "/events")
    got = re.findall(rb'href="event\?id=([0-9A-Z]+)&amp;', first.body)
    assert got[0].decode() == form and len(rows(first.body, "event")) == 50
    nxt = re.search(rb'id="next-page" href="events\?([^"]+)"', first.body).group(1).decode().replace("&amp;", "&")
    second = c.request("GET", "/events", query=nxt)
    got2 = re.findall(rb'href="event\?id=([0-9A-Z]+)&amp;', second.body)
    assert [g.decode() for g in got + got2] == [form] + ids[::-1]  # every event once, newest first
    assert b'id="next-page"' not in second.body
    only_forms = c.request("GET", "/events", query="event=form")
    assert re.findall(rb'href="event\?id=([0-9A-Z]+)&amp;', only_forms.body) == [form.encode()]
    search = c.request("GET", "/events", query="q=1042")
    assert re.findall(rb'href="event\?id=([0-9A-Z]+)&amp;', search.body) == [ids[42].encode()]
    # A key's name is not a value: nothing has "chat_id" in a value.
    assert b'id="no-events"' in c.request("GET", "/events", query="q=chat_id").body
    assert b'id="no-events"' in c.request("GET", "/events", query="from=2099-01-01").body
    # A cursor naming another file, or none of the journal's, finds nothing and breaks nothing.
    for bad in ["before=..%2F..%2Fetc%2Fpasswd%3A0", "before=journal.jsonl%3A-5", "before=x"]:
        r = c.request("GET", "/events", query=bad)
        assert r.status == 200 and b'id="no-events"' in r.body


def test_event_page_shows_form_transcript_and_outcomes(tmp_path):
    site = make_site(tmp_path)
    form = post_event(site, "form")
    chat = post_event(site, "chat-end")
    c = Console(site)
    c.login()
    page = c.request("GET", "/event", query=f"id={form}")
    assert page.status == 200 and b'id="form-items"' in page.body and b'id="outcomes"' in page.body
    sample = json.loads((SAMPLES / "form.json").read_text(encoding="utf-8"))
    for item in sample["item"]:
        assert item["item_name"].encode() in page.body
    assert b'id="replay-all"' in page.body and b'id="replay-mail"' in page.body and b'id="replay-append"' in page.body
    # The mail could not be handed over: deferred, shown with why.
    assert "保留".encode() in page.body
    t = c.request("GET", "/event", query=f"id={chat}")
    assert t.body.count(b'<li class="msg') == len(json.loads((SAMPLES / "chat-end.json").read_text(encoding="utf-8"))["chat_detail"])
    assert c.request("GET", "/event", query="id=NOSUCHID").status == 404


def test_hostile_values_are_text(tmp_path):
    site = make_site(tmp_path)
    hostile = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "\u202eexe.pdf", "x" * 10000, "\x00\x1b[31m"]
    payload = json.loads((SAMPLES / "form.json").read_text(encoding="utf-8"))
    payload["item"] = [{"item_name": h, "item_value": h} for h in hostile]
    payload["subject"] = hostile[1]
    event = post_event(site, "form", payload)
    c = Console(site)
    c.login()
    for page, query in [("/events", ""), ("/event", f"id={event}"), ("/events", "q=" + "%3Cscript%3E")]:
        body = c.request("GET", page, query=query).body
        assert b"<script>" not in body and b"<img" not in body and b'href="javascript' not in body
        assert b"\x00" not in body and b"\x1b" not in body
    body = c.request("GET", "/event", query=f"id={event}").body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body and b"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in body
    assert "⚠ 制御文字".encode() in body  # the RTL override is flagged
    # The raw record shows it as its JSON escape, and every value is isolated from our words.
    raw = re.search(rb'<pre id="raw">(.*?)</pre>', body, re.S).group(1)
    assert b"\\u202E" in raw and "\u202e".encode() not in raw


def test_problems_retry_and_rejections(tmp_path):
    site = make_site(tmp_path)
    event = post_event(site, "form")
    r = site.run("chatdealer-form", {"chat_id": "1"}, token="wrong-token-0000000000")
    assert r.status == 401
    c = Console(site)
    c.login()
    problems = c.request("GET", "/problems")
    assert len(rows(problems.body, "spooled")) == 1 and event.encode() in problems.body
    assert len(rows(problems.body, "problem")) == 1
    overview = c.request("GET", "/")
    assert re.search(rb'id="spool-count">1<', overview.body) and re.search(rb'id="rejections-today">1<', overview.body)
    rej = c.request("GET", "/rejections")
    assert rows(rej.body, "rejection") and b"chatdealer/form" in rej.body and b"401" in rej.body
    # sendmail still broken: the retry says so and the mail stays.
    token = c.csrf()
    r = c.request("POST", "/retry", {"csrf": token})
    assert r.status == 303 and r.headers["location"] == "problems"
    after = c.request("GET", "/problems")
    assert "0 通を送りました。1 通はまだ送れていません".encode() in after.body
    assert len(rows(after.body, "spooled")) == 1


def test_export_csv_is_excels(tmp_path):
    site = make_site(tmp_path)
    post_event(site, "form")
    post_event(site, "chat-start")
    c = Console(site)
    c.login()
    r = c.request("GET", "/export.csv", query="event=form")
    assert r.status == 200 and r.headers["content-disposition"] == 'attachment; filename="chathooks-events.csv"'
    assert r.body.startswith(b"\xef\xbb\xbf") and b"\r\n" in r.body
    table = list(csv.reader(io.StringIO(r.body[3:].decode("utf-8"), newline=""), dialect="excel"))
    assert table[0][:3] == ["受信日時", "送信元", "イベント"] and len(table) == 2 and table[1][2] == "form"
    # The outcome column is the export's: the mail waits in the spool.
    assert table[0][7] == "処理結果" and table[1][7].startswith("保留: mail:")
    # A text search narrows the download as it does the page.
    r = c.request("GET", "/export.csv", query="q=no-such-text-anywhere")
    assert len(list(csv.reader(io.StringIO(r.body[3:].decode("utf-8"), newline="")))) == 1


def test_overview_counts_and_check(tmp_path):
    site = make_site(tmp_path)
    for name in ["chat-start", "chat-start", "form"]:
        post_event(site, name)
    c = Console(site)
    c.login()
    body = c.request("GET", "/").body
    assert re.search(rb"<title>[^<]*: 2 ", body)  # the chart's bar for today's two chat-starts
    assert b'id="check"' in body and b"valid" in body
    for secret in [TOKEN1, HASH]:
        assert secret.encode() not in body
    # Counted again from its cache: a new event is added to what was kept.
    post_event(site, "chat-start")
    assert re.search(rb"<title>[^<]*: 3 ", c.request("GET", "/").body)
    assert (site.root / "data" / "console" / "cache" / "counts.json").exists()


# --- chathooks passwd ----------------------------------------------------------

def test_passwd_makes_a_bcrypt_hash(tmp_path):
    exe = str(BIN_DIR / "chathooks")
    r = subprocess.run([exe, "passwd", "--cost", "4"], input="a long enough password\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("$2b$04$") and bcrypt.checkpw(b"a long enough password", h.encode())
    assert subprocess.run([exe, "passwd"], input="short\n", capture_output=True, text=True, timeout=30).returncode == 1
    assert subprocess.run([exe, "passwd", "--cost", "13"], input=b"a long enough password\n", capture_output=True, timeout=30).returncode == 2
    assert subprocess.run([exe, "passwd", "secret-on-argv"], input=b"", capture_output=True, timeout=30).returncode == 2
    # The hash it makes logs in.
    site = make_site(tmp_path, admin=f'admin: {{ passwordHash: "{h}" }},')
    assert Console(site).login("a long enough password").status == 303


# --- a long journal, found by time -------------------------------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms, n):
    value = (ms << 80) | n
    return "".join(CROCKFORD[(value >> (5 * (25 - i))) & 31] for i in range(26))


def write_journal(path, start, count, step):
    """`count` chat-starts from `start` (seconds, UTC) every `step` seconds, as
    JournalRecord.line writes them in JST; each line a few hundred bytes."""
    import datetime
    jst = datetime.timezone(datetime.timedelta(hours=9))
    ids = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            t = start + i * step
            at = datetime.datetime.fromtimestamp(t, jst).isoformat(timespec="milliseconds")
            rid = ulid(t * 1000, i)
            ids.append((rid, at))
            payload = {"chat_id": str(i), "event_date": at[:19].replace("-", "/").replace("T", " "), "page_title": "x" * 200}
            f.write(json.dumps({"received_at": at, "source": "chatdealer", "event": "chat-start", "request_id": rid,
                                "remote_addr": "127.0.0.1", "payload": payload}, ensure_ascii=False, separators=(",", ":")) + "\n")
    return ids


def test_dates_and_old_ids_are_found_by_time_in_a_long_journal(tmp_path):
    site = make_site(tmp_path)
    site.journal_path.parent.mkdir(parents=True, exist_ok=True)
    # 6,000 events over ten days (~2 MB): the bisection really probes.
    ids = write_journal(site.journal_path, 1_795_000_000, 6000, 144)
    c = Console(site)
    c.login()
    day = ids[3000][1][:10]
    expected = [rid for rid, at in ids if at[:10] == day]
    got, query = [], f"from={day}&to={day}"
    while True:
        page = c.request("GET", "/events", query=query).body
        got += [g.decode() for g in re.findall(rb'href="event\?id=([0-9A-Z]+)&amp;', page)]
        m = re.search(rb'id="next-page" href="events\?([^"]+)"', page)
        if not m:
            break
        query = m.group(1).decode().replace("&amp;", "&")
    assert got == expected[::-1]
    # The CSV of that day: the same events, oldest first.
    r = c.request("GET", "/export.csv", query=f"from={day}&to={day}")
    table = list(csv.reader(io.StringIO(r.body[3:].decode("utf-8"), newline="")))
    assert [row[4] for row in table[1:]] == expected
    # An old event without a hint: found by the time in its id.
    old = ids[10][0]
    page = c.request("GET", "/event", query=f"id={old}")
    assert page.status == 200 and old.encode() in page.body
    # An id whose time says nothing useful is still found (every line read).
    lines = site.journal_path.read_text(encoding="utf-8").split("\n")
    odd = json.loads(lines[20])
    odd["request_id"] = "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"
    lines[20] = json.dumps(odd, ensure_ascii=False, separators=(",", ":"))
    site.journal_path.write_text("\n".join(lines), encoding="utf-8")
    assert c.request("GET", "/event", query="id=ZZZZZZZZZZZZZZZZZZZZZZZZZZ").status == 200


def test_a_form_that_arrives_in_pieces_is_read_whole(tmp_path):
    """A pipe may hand a body over in pieces: the console reads to Content-Length.
    The second piece is written once the process waits in read(0) for it."""
    site = make_site(tmp_path)
    body = urllib.parse.urlencode({"filler": "x" * 3000, "password": PASSWORD}).encode()
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "/c/chathooks.cgi", "PATH_INFO": "/admin/login",
           "QUERY_STRING": "", "REQUEST_URI": "/c/chathooks.cgi/admin/login", "HTTP_HOST": HOST,
           "REMOTE_ADDR": "127.0.0.1", "HTTP_ORIGIN": ORIGIN}
    proc = site.start("chathooks", b"", method="POST", token=None, content_type="application/x-www-form-urlencoded",
                      extra=env, length=len(body))
    proc.stdin.write(body[:1000])
    proc.stdin.flush()
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        # Blocked in read(0, …): the first piece is taken, the rest awaited.
        fields = Path(f"/proc/{proc.pid}/syscall").read_text().split()
        if fields and fields[0] == "0" and fields[1] == "0x0":
            break
    proc.body = body[1000:]
    r = Site.finish(proc)
    assert r.status == 303, r.body[-300:]


def test_admin_hosts_lists_the_names_the_console_answers_on(tmp_path):
    site = make_site(tmp_path, admin=f'admin: {{ passwordHash: "{HASH}", hosts: ["Example.JP"] }},')
    ok = Console(site).login(remote="203.0.113.5", extra={"HTTP_HOST": "example.jp", "HTTPS": "on"}, origin="https://example.jp")
    assert ok.status == 303
    other = Console(site).request("GET", "/login", remote="203.0.113.5", extra={"HTTP_HOST": "other.example"})
    assert other.status == 403 and b"admin.hosts" in other.body
    # Listed, a local client may use the name too (a proxy on the same machine).
    assert Console(site).login(extra={"HTTP_HOST": "example.jp"}, origin="http://example.jp").status == 303
    # Without a list, a local client must name the machine itself.
    site2 = make_site(tmp_path / "b")
    assert Console(site2).request("GET", "/login", extra={"HTTP_HOST": "example.jp"}).status == 403


@pytest.mark.parametrize("block, problem", [
    ('hosts: ["https://example.jp/"]', "admin.hosts[0]"),
    ('hosts: "example.jp"', "admin.hosts"),
    ("idleHours: 0", "admin.idleHours"),
    ("idleHours: 1.5", "admin.idleHours"),
    ("allowPlainHTTP: 1", "admin.allowPlainHTTP"),
    ("passwrodHash: 1", "admin.passwrodHash"),
])
def test_a_bad_admin_setting_is_named_by_check(tmp_path, block, problem):
    site = make_site(tmp_path, admin=f'admin: {{ passwordHash: "{HASH}", {block} }},')
    check = subprocess.run([str(BIN_DIR / "chathooks"), "check", str(site.config_path)], capture_output=True, text=True, timeout=10)
    assert check.returncode == 1 and problem in check.stderr, check.stderr
    assert HASH not in check.stderr + check.stdout
    assert Console(site).request("GET", "/login").status == 503
