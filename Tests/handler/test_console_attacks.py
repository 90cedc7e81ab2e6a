"""Attacks on the web console (issue #13), as CGI, in the style of
test_console.py: a review's findings, each of which failed on the console
as it was first committed (34dfeac). (The throttle's window over time is
tested on its own clock: Tests/ChatHooksCoreTests/ConsoleTests.swift.)"""
import json
import os
import re
import resource
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import bcrypt

from cgi_site import Site
from test_console import (HASH, HOST, ORIGIN, PASSWORD, SAMPLES, Console, make_site, post_event, rows)


def sample(name):
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def console_env(page, host=HOST, origin=ORIGIN, remote="127.0.0.1", extra=None):
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SCRIPT_NAME": "/c/chathooks.cgi",
        "PATH_INFO": "/admin" + page,
        "QUERY_STRING": "",
        "REQUEST_URI": "/c/chathooks.cgi/admin" + page,
        "HTTP_HOST": host,
        "HTTP_ORIGIN": origin,
        "REMOTE_ADDR": remote,
    }
    env.update(extra or {})
    return env


# --- F1: the login throttle counts a failure only after bcrypt -----------------

def test_parallel_guesses_are_counted_before_they_are_checked(tmp_path):
    """lockedFor() and failed() are two separate locked sections with bcrypt in
    between: every guess that arrives while the others are still hashing is
    let through. 30 concurrent guesses from one address all get a 401 (all
    were checked against the hash) where only 5 may."""
    slow = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()  # ~60 ms, far less than the real $2b$12$
    site = make_site(tmp_path, admin=f'admin: {{ passwordHash: "{slow}" }},')
    procs = [site.start("chathooks", urlencode({"password": f"guess-{i}"}).encode(), method="POST", token=None,
                        content_type="application/x-www-form-urlencoded",
                        extra=console_env("/login", remote="198.51.100.77", origin="https://" + HOST, extra={"HTTPS": "on"}))
             for i in range(30)]
    with ThreadPoolExecutor(len(procs)) as pool:  # the bodies are sent at once
        statuses = [r.status for r in pool.map(Site.finish, procs)]
    checked = statuses.count(401)
    assert checked <= 5, f"{checked} of 30 concurrent guesses were checked against the hash (at most 5 may be)"


# --- F2: the Host header is trusted (DNS rebinding) ----------------------------

def test_a_rebound_host_name_cannot_log_in_from_loopback(tmp_path):
    """A page on rebind.evil.example whose name is re-pointed at 127.0.0.1
    sends Host and Origin both rebind.evil.example: Origin == "http://" + Host
    passes, the loopback address waives the HTTPS rule, and `make run` prints
    its fixed password (tools/demo.py: demo-console-password). The attacker's
    page is then same-origin with the console and reads every page."""
    site = make_site(tmp_path)
    evil = "rebind.evil.example:8080"
    r = Console(site).login(remote="127.0.0.1", origin="http://" + evil, extra={"HTTP_HOST": evil})
    assert r.status == 403, "a login under a foreign Host name was accepted"
    assert "set-cookie" not in r.headers


# --- F3: allowPlainHTTP (a TLS proxy in front) cannot log in at all ---------------

def test_behind_a_tls_proxy_allow_plain_http_can_log_in(tmp_path):
    """admin.allowPlainHTTP is for a TLS-terminating proxy that does not say so:
    the browser is on https://host and sends Origin https://host, but ownOrigin
    is built from HTTPS=off as http://host, so every POST (login included) is
    403 'Origin'. The documented setup cannot be used."""
    site = make_site(tmp_path, admin=f'admin: {{ passwordHash: "{HASH}", allowPlainHTTP: true }},')
    r = Console(site).login(remote="203.0.113.50", origin="https://" + HOST)
    assert r.status == 303, r.body[-300:].decode(errors="replace")


# --- F4: a new password leaves every session logged in -------------------------

def test_changing_the_password_ends_the_sessions(tmp_path):
    """Replacing admin.passwordHash (the password leaked) keeps every existing
    session valid for as long as it is used every 8 h: no way to throw a
    stolen session out but deleting files by hand."""
    site = make_site(tmp_path)
    c = Console(site)
    assert c.login().status == 303
    new = bcrypt.hashpw(b"a-brand-new-password-42", bcrypt.gensalt(4)).decode()
    site.config_path.write_text(site.config_path.read_text().replace(HASH, new))
    assert c.request("GET", "/events").status == 303, "the old session still works after a password change"


# --- F5: the counts cache after a truncation in place (copytruncate) --------------

def chart_titles(body):
    return sorted(t.decode() for t in re.findall(rb"<title>([^<]*: [1-9]\d* [^<]*)</title>", body))


def test_counts_are_right_after_the_journal_is_truncated_and_refilled(tmp_path):
    """DailyCounts trusts (device, inode, offset <= size): a journal emptied in
    place (logrotate's copytruncate, a file manager's "empty") that has grown
    past the old offset again by the next visit is counted as the old counts
    plus whatever follows the old offset — here 3 forms that no longer exist
    and 1 of the 6 chat-starts."""
    site = make_site(tmp_path)
    for _ in range(3):
        post_event(site, "form")
    c = Console(site)
    c.login()
    assert any("フォーム: 3 件" in t for t in chart_titles(c.request("GET", "/").body))
    with open(site.journal_path, "r+b") as f:
        f.truncate(0)
    for _ in range(6):
        post_event(site, "chat-start")
    titles = chart_titles(c.request("GET", "/").body)
    assert not any("フォーム" in t for t in titles), titles
    assert any("チャット開始: 6 件" in t for t in titles), titles


# --- F6: a "next page" link to nothing -------------------------------------------

def test_no_next_page_when_nothing_older_matches(tmp_path):
    """The cursor is set as soon as a 51st line is seen, before the filter:
    with event=form and one older chat-start, page 1 links to an empty page 2
    (the contract: #next-page only when older ones exist)."""
    site = make_site(tmp_path)
    post_event(site, "chat-start")
    for _ in range(50):
        post_event(site, "form")
    c = Console(site)
    c.login()
    r = c.request("GET", "/events", query="event=form")
    assert len(rows(r.body, "event")) == 50
    m = re.search(rb'id="next-page" href="events\?([^"]+)"', r.body)
    if m:
        nxt = c.request("GET", "/events", query=m.group(1).decode().replace("&amp;", "&"))
        assert rows(nxt.body, "event"), "#next-page led to a page without events"


# --- F7: a journal whose last line never ends --------------------------------------

def test_a_journal_without_a_newline_is_not_read_whole(tmp_path):
    """BackwardReader looks for the last newline by reading back in doubling
    pieces and keeping all it read: a journal ending in 300 MB without a
    newline (a writer killed mid-line, a disk that filled, a file copied in
    by hand) is held whole in memory, rescanned at each piece, on every
    page view. The newest page should stay cheap."""
    site = make_site(tmp_path)
    first = post_event(site, "chat-start")
    c = Console(site)
    c.login()
    size = site.journal_path.stat().st_size
    with open(site.journal_path, "ab") as f:
        chunk = b'{"received_at":"' + b"x" * ((1 << 20) - 16)
        for _ in range(100):
            f.write(chunk)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    for page in ["/events", "/"]:
        r = c.request("GET", page)
        assert r.status == 200 and first.encode() in r.body, page
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # The largest child so far: a page that held the 100 MB tail would be well over it.
    # The 100 MB of filler go (Tests/zz_secrets would read them all for nothing).
    os.truncate(site.journal_path, size)
    assert rss_mb < max(80, before / 1024 + 1), f"a page view used {rss_mb:.0f} MB for a journal ending in 100 MB without a newline"
