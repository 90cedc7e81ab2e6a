"""The web console (issue #13) through every way we ship that serves it, from
the shipped files: the .htaccess bundle (chathooks.cgi/admin/), the Apache
vhost (CGI) and mod_fcgid, nginx with fcgiwrap and with the FastCGI process
(/hooks/admin/). Log in, see the event just posted, replay its actions. (The
pages themselves, in a browser: Tests/console.)"""
import http.client
import json
import re
import urllib.parse

import bcrypt
import pytest

from itkit import TOKEN, config_text, headers, running, sample
from stack import Apache, NginxFcgiwrap, NginxSpawnFcgi, record_evidence
from webclient import post

CONSOLE_PASSWORD = "servers-console-password-42"
KINDS = {
    "nginx-fcgiwrap": (NginxFcgiwrap, {}),
    "nginx-spawnfcgi-routed": (NginxSpawnFcgi, {}),
    "apache-htaccess-cgi": (Apache, {"mode": "htaccess"}),
    "apache-vhost-cgi": (Apache, {"mode": "vhost-cgi"}),
    "apache-fcgid": (Apache, {"mode": "fcgid"}),
}


def console_config():
    text = config_text()
    line = '  // admin: { passwordHash: "$2b$12$...", idleHours: 8 },'
    assert line in text
    return text.replace(line, f'  admin: {{ passwordHash: "{bcrypt.hashpw(CONSOLE_PASSWORD.encode(), bcrypt.gensalt(4)).decode()}" }},')


@pytest.fixture(scope="module", params=list(KINDS))
def stack(request):
    kind, kw = KINDS[request.param]
    with running(kind, config=console_config(), **kw) as s:
        yield s


def base(stack):
    """The console's path on this stack."""
    if isinstance(stack, Apache) and stack.mode == "htaccess":
        return "/chathooks/chathooks.cgi/admin/"
    return "/hooks/admin/"


def call(stack, method, path, body=None, cookie=None, origin=True):
    """One request, redirects not followed; every answer kept for Tests/zz_secrets."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=20)
    h = {"Host": f"127.0.0.1:{stack.port}"}
    if origin:
        h["Origin"] = f"http://127.0.0.1:{stack.port}"
    if cookie:
        h["Cookie"] = "chathooks_session=" + cookie
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body).encode()
        h["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    record_evidence("http-response", "".join(f"{k}: {v}\r\n" for k, v in out[1].items()).encode() + b"\r\n" + out[2])
    return out


def test_console_login_events_and_replay(stack):
    reply = post(stack.url("chatdealer-chat-end"), sample("chatdealer-chat-end"), headers("chatdealer-chat-end"))
    assert reply.status == 200, reply.body
    event = reply.json["id"]
    b = base(stack)
    status, h, _ = call(stack, "GET", b.rstrip("/"))
    assert status == 303 and h["location"] == "admin/"
    status, h, _ = call(stack, "GET", b + "events")
    assert status == 303 and h["location"] == "login"
    status, h, _ = call(stack, "POST", b + "login", {"password": CONSOLE_PASSWORD})  # noqa
    assert status == 303, (h, _)
    cookie = re.search(r"chathooks_session=([0-9a-f]{64})", h["set-cookie"]).group(1)
    assert f"Path={b}" in h["set-cookie"] and "HttpOnly" in h["set-cookie"]
    status, h, page = call(stack, "GET", b + "events", cookie=cookie)
    assert status == 200 and event.encode() in page and h["content-security-policy"].startswith("default-src 'none'")
    status, _, page = call(stack, "GET", b + "event?id=" + event, cookie=cookie)
    assert status == 200 and b'id="transcript"' in page
    csrf = re.search(rb'name="csrf" value="([0-9a-f]{64})"', page).group(1).decode()
    status, h, _ = call(stack, "POST", b + "replay", {"csrf": csrf, "id": event}, cookie=cookie)
    assert status == 303 and h["location"].startswith("event?id=" + event)
    outcomes_file = (stack.journal if isinstance(stack, Apache) else stack.site.journal).parent / "outcomes.jsonl"
    outcomes = [json.loads(l) for l in outcomes_file.read_text().splitlines()]
    assert [o["run"] for o in outcomes if o["request_id"] == event] == ["request", "replay"]
    # Without the token, or from elsewhere: refused, and nothing runs.
    assert call(stack, "POST", b + "replay", {"id": event}, cookie=cookie)[0] == 403
    assert call(stack, "POST", b + "replay", {"csrf": csrf, "id": event}, cookie=cookie, origin=False)[0] == 403
    assert len(outcomes_file.read_text().splitlines()) == len(outcomes)
    status, _, css = call(stack, "GET", b + "style.css")
    assert status == 200 and b"font-family" in css


def test_console_is_404_on_a_stack_without_it():
    with running(NginxSpawnFcgi) as s:
        status, _, body = call(s, "GET", "/hooks/admin/")
        assert status == 404 and json.loads(body)["error"] == "not_found"
