"""The console (issue #13) in a real browser: headless Chromium (Debian's
chromium and chromedriver) driven by Selenium, through the Apache .htaccess
bundle and through nginx with one spawn-fcgi'd `chathooks`, on 127.0.0.1.

Each test saves a screenshot of every page it looks at (and the page as the
browser holds it) under its own tmp folder, screenshots/. What is checked is
the browser's DOM: a hostile value must come out as text, never as an element,
a link or a script. The requests a browser cannot forge (a foreign Origin, a
missing token) go through urllib with the browser's own session cookie.

The tests of one stack run in file order and share its browser session:
log in first; the expiry, lock-out and "not configured" tests come last."""
import csv
import io
import json
import os
import re
import time
import urllib.parse

from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from consolekit import (ADMIN_PASSWORD, CSP_DIRECTIVES, HOSTILE, SECURITY_HEADERS, SESSION_COOKIE, TIMEOUT,
                        WRONG_PASSWORD, fetch, itkit, without_admin)

HTML_PAGES = ("", "events", "problems", "rejections")


# --- Helpers ----------------------------------------------------------------------------------

def wait(b, timeout=TIMEOUT):
    return WebDriverWait(b.driver, timeout)


def text(element):
    """The DOM's text of an element, as it is (not as laid out)."""
    return element.get_attribute("textContent")


def by_id(b, ident):
    return b.driver.find_element(By.ID, ident)


def css(b, selector):
    return b.driver.find_elements(By.CSS_SELECTOR, selector)


def open_page(b, console, page, shots, name):
    """GET a console page (the browser waits for its load event) and keep a screenshot."""
    b.driver.get(console.url(page))
    b.record(name, shots)


def submit(b, button, shots, name, screenshot=True):
    """Click a form's button (or a link) and wait (bounded) for the next page to
    have loaded: the old document carries a mark that a new one does not."""
    b.driver.execute_script("window.__chathooks_old_page = true")
    button.click()
    last = []

    def new_page_loaded(d):
        try:
            return d.execute_script("return !window.__chathooks_old_page && document.readyState === 'complete'")
        except WebDriverException as e:  # the old document went away under the script: ask again
            last[:] = [e.msg]
            return False

    wait(b).until(new_page_loaded, f"no new page after clicking {name} ({last})")
    b.record(name, shots, screenshot)


def on_login_page(b, console):
    path = urllib.parse.urlsplit(b.driver.current_url).path
    return path == console.cookie_path + "login" and bool(css(b, "form#login"))


def log_in(b, console, shots, password=ADMIN_PASSWORD, name="login"):
    b.driver.get(console.url("login"))
    b.record(name + "-page", shots)
    field = b.driver.find_element(By.CSS_SELECTOR, 'form#login input[name="password"]')
    field.clear()
    field.send_keys(password)
    submit(b, by_id(b, "login-button"), shots, name + "-answer")
    if password == ADMIN_PASSWORD and css(b, "#error") and not css(b, "#logout-button"):
        return text(by_id(b, "error")).strip()  # refused: the caller says whether that was expected
    return None


def ensure_logged_in(b, console, shots):
    b.driver.get(console.url(""))
    if not css(b, "nav#nav #logout-button"):
        refused = log_in(b, console, shots)
        assert not refused, f"the right password was refused in the browser: {refused}"
        assert css(b, "nav#nav #logout-button"), (b.driver.current_url, b.driver.page_source[:2000])


def session_cookie(b):
    for c in b.driver.get_cookies():  # WebDriver returns HttpOnly cookies too
        if c["name"] == SESSION_COOKIE:
            return c
    raise AssertionError(f"no {SESSION_COOKIE} cookie in the browser: {b.driver.get_cookies()}")


def cookie_header(b):
    c = session_cookie(b)
    return {"Cookie": f"{c['name']}={c['value']}"}


def csrf_of(b):
    fields = css(b, 'input[name="csrf"]')
    assert fields, "no csrf field on " + b.driver.current_url
    value = fields[0].get_attribute("value")
    assert value and len(value) >= 16, value
    return value


def inner_html(b, ident, may_be_absent=False):
    """An element's markup, for "is this id on the page at all"; a table that is
    left out when empty counts as empty when `may_be_absent`."""
    found = b.driver.find_elements(By.ID, ident)
    if not found and may_be_absent:
        return ""
    assert found, f"no #{ident} on {b.driver.current_url}"
    return found[0].get_attribute("innerHTML")


def first_number(s):
    m = re.search(r"\d+", s)
    assert m, f"no number in {s!r}"
    return int(m.group(0))


def table_rows(b, table_id):
    return b.driver.find_elements(By.CSS_SELECTOR, f"table#{table_id} tr")


def no_alert(b):
    try:
        alert = b.driver.switch_to.alert
    except NoAlertPresentException:
        return True
    raise AssertionError(f"an alert is open: {alert.text!r}")


# Text nodes holding a bidirectional control whose own element does not isolate them: such an
# override reorders the page's own text after it (an `exe.pdf` of `fdp.exe`).
UNISOLATED_BIDI = r"""
const controls = /[\u202A-\u202E\u2066-\u2069]/, bad = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const n = walker.currentNode, e = n.parentElement;
  if (!controls.test(n.data)) continue;
  const u = getComputedStyle(e).unicodeBidi;
  if (e.tagName === "BDI" || u === "isolate" || u === "isolate-override" || u === "plaintext") continue;
  bad.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") + ": " + n.data.slice(0, 80));
}
return bad;
"""


def assert_inert(b, console):
    """Nothing on the page came from a payload as markup: no script, no image, no
    event handler attribute, no frame or object, every link to the console itself."""
    d = b.driver
    assert css(b, "script") == [], "a <script> element on " + d.current_url
    assert css(b, "img") == [], "an <img> element on " + d.current_url
    assert css(b, "iframe, frame, object, embed, base, meta[http-equiv]") == []
    assert css(b, "[onerror], [onload], [onclick], [onmouseover], [onfocus]") == []
    assert css(b, 'a[href^="javascript:" i], [src^="javascript:" i], [action^="javascript:" i]') == []
    # Every link and form target as the browser resolved it (one round trip for them all).
    targets = d.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)"
                               ".concat([...document.querySelectorAll('form')].map(f => f.action))")
    away = [t for t in targets if not t.startswith(console.origin + "/")]
    assert away == [], f"a link or form away from the console: {away[:5]}"
    no_alert(b)
    assert b.driver.execute_script(UNISOLATED_BIDI) == [], "a bidi control not isolated from the page's text"
    # Nothing the page holds was refused by its own Content-Security-Policy (an inline style, a script).
    violations = [entry["message"] for entry in b.driver.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert violations == [], violations


def event_page(b, console, rid, shots, name):
    open_page(b, console, f"event?id={urllib.parse.quote(rid)}", shots, name)
    assert css(b, "pre#raw"), (b.driver.current_url, b.driver.page_source[:1500])


def outcome_lines(console, rid, run=None):
    return [o for o in console.outcomes() if o.get("request_id") == rid and (run is None or o.get("run") == run)]


def event_id_of(href):
    """The request id an `a.open` link opens (`event?id=…`, whatever else its query holds)."""
    parts = urllib.parse.urlsplit(href or "")
    if not parts.path.endswith("/event"):
        return None
    return (urllib.parse.parse_qs(parts.query).get("id") or [None])[0]


def replay_button(b, which):
    return by_id(b, f"replay-{which}")


# --- Logging in, and the pages not logged in ----------------------------------------------------

def test_not_logged_in_pages_go_to_login_and_posts_are_refused(console):
    for page in HTML_PAGES + (f"event?id={console.samples['chatdealer-form']}", "export.csv"):
        r = fetch(console.url(page))
        assert r.status == 303, (page, r)
        target = urllib.parse.urljoin(console.url(page), r.headers["location"])
        assert urllib.parse.urlsplit(target).path == console.cookie_path + "login", (page, r.headers["location"])
    r = fetch(console.base.rstrip("/"))
    assert r.status == 303, r
    assert urllib.parse.urljoin(console.base.rstrip("/"), r.headers["location"]) == console.base
    for page, fields in (("replay", {"id": console.samples["chatdealer-form"]}), ("retry", {}), ("logout", {})):
        r = fetch(console.url(page), fields, {"Origin": console.origin})
        assert r.status == 403, (page, r)
    assert outcome_lines(console, console.samples["chatdealer-form"], "replay") == []


def test_log_in(console, browser, shots):
    b = browser
    b.driver.delete_all_cookies()
    open_page(b, console, "", shots, "redirected-to-login")
    assert on_login_page(b, console), b.driver.current_url
    form = by_id(b, "login")
    assert form.get_attribute("method").lower() == "post"
    assert form.find_element(By.CSS_SELECTOR, 'input[name="password"]').get_attribute("type") == "password"
    assert form.find_element(By.CSS_SELECTOR, 'input[name="next"]').get_attribute("type") == "hidden"
    assert b.driver.execute_script("return document.characterSet") == "UTF-8"
    assert b.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
    # (A wrong password is tried in the lock-out test only: the throttle counts every failure.)
    refused = log_in(b, console, shots)
    assert not refused, f"the right password was refused in the browser: {refused}"
    assert urllib.parse.urlsplit(b.driver.current_url).path == console.cookie_path, b.driver.current_url
    assert css(b, "nav#nav") and css(b, "#logout-button"), b.driver.page_source[:2000]
    cookie = session_cookie(b)
    assert cookie["httpOnly"] is True
    assert cookie.get("sameSite") == "Strict"
    assert cookie["path"] == console.cookie_path
    assert cookie.get("secure") is False  # plain HTTP here; Secure under HTTPS=on
    page = b.driver.page_source
    assert ADMIN_PASSWORD not in page and console.hash not in page
    assert_inert(b, console)


def test_the_login_next_field_never_leads_away(console, browser, shots):
    """`next` (the hidden field, and the query that may fill it): never a way
    off the console, never markup."""
    b = browser
    for i, target in enumerate(["https://evil.example/", "//evil.example/x", "javascript:alert(1)", HOSTILE[1]]):
        b.driver.delete_all_cookies()
        open_page(b, console, "login?" + urllib.parse.urlencode({"next": target}), shots, f"login-next-{i}")
        assert_inert(b, console)
        field = b.driver.find_element(By.CSS_SELECTOR, 'form#login input[name="next"]')
        assert field.get_attribute("type") == "hidden"
        field = b.driver.find_element(By.CSS_SELECTOR, 'form#login input[name="password"]')
        field.send_keys(ADMIN_PASSWORD)
        submit(b, by_id(b, "login-button"), shots, f"login-next-{i}-answer")
        assert b.driver.current_url.startswith(console.base), (target, b.driver.current_url)
        assert css(b, "#logout-button"), (target, b.driver.page_source[:1500])
        assert_inert(b, console)


def test_overview(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    open_page(b, console, "", shots, "overview")
    assert b.driver.find_element(By.CSS_SELECTOR, "svg#chart").tag_name == "svg"
    assert css(b, "svg#chart rect, svg#chart path, svg#chart line"), "no bar in the 14-day chart"
    last = text(by_id(b, "last-events"))
    for route in ("chat-start", "chat-message", "chat-end", "scenario", "form", "dataset", "send"):
        assert route in last, (route, last[:2000])
    assert css(b, "table#problems-summary") or not console.outcomes() or \
        all(a["outcome"] == "done" for o in console.outcomes() for a in o["actions"]), "failed actions are summarised"
    assert text(by_id(b, "spool-count")).strip() == "0"
    assert any(c.isdigit() for c in text(by_id(b, "rejections-today"))), text(by_id(b, "rejections-today"))
    check = text(by_id(b, "check"))
    assert "chat-end" in check and "form" in check, check[:2000]
    page = b.driver.page_source
    for secret in (itkit.TOKEN, *itkit.WEBHOOK_KEYS.values(), *itkit.SECRETS.values(), ADMIN_PASSWORD, console.hash):
        assert secret not in page
    assert_inert(b, console)


# --- Events, one event, replay ------------------------------------------------------------------

def test_the_samples_just_posted_are_on_the_events_page(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    open_page(b, console, "events", shots, "events")
    rows = css(b, "table#events tr.event")
    assert len(rows) >= len(console.samples), b.driver.page_source[:3000]
    order, routes = [], {}
    for handler, rid in console.samples.items():
        links = [a for a in css(b, "table#events tr.event a.open") if event_id_of(a.get_attribute("href")) == rid]
        assert len(links) == 1, (handler, rid)
        row = links[0].find_element(By.XPATH, "./ancestor::tr[1]")
        source, event = handler.split("-", 1)
        routes[f"{source}/{event}"] = text(row.find_element(By.CSS_SELECTOR, "td.route"))
        assert text(row.find_element(By.CSS_SELECTOR, "td.time")).strip()
        row.find_element(By.CSS_SELECTOR, "td.outcome")
        if source == "chatdealer":
            assert "21252" in text(row.find_element(By.CSS_SELECTOR, "td.who")) or \
                "30660" in text(row.find_element(By.CSS_SELECTOR, "td.who")) or event == "scenario"
        order.append(rows.index(row))
    assert order == sorted(order, reverse=True), "newest first"
    assert_inert(b, console)
    # The contract: td.route says source/event.
    assert all(route in shown for route, shown in routes.items()), routes


def test_events_filter_and_csv_download_read_as_excel(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    open_page(b, console, "events", shots, "events-before-filter")
    form = by_id(b, "filter")
    assert form.get_attribute("method").lower() == "get"
    for name, value in (("source", "chatdealer"), ("event", "form")):
        field = form.find_element(By.CSS_SELECTOR, f'[name="{name}"]')
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)
    buttons = form.find_elements(By.CSS_SELECTOR, 'button, input[type="submit"]')
    assert buttons, "the filter form has no button"
    submit(b, buttons[0], shots, "events-filtered")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)
    assert query.get("source") == ["chatdealer"] and query.get("event") == ["form"], b.driver.current_url
    rows = css(b, "table#events tr.event")
    forms = {r["request_id"] for r in console.journal_records() if (r["source"], r["event"]) == ("chatdealer", "form")}
    shown = {event_id_of(a.get_attribute("href")) for a in css(b, "table#events tr.event a.open")}
    assert rows and shown == forms, (shown, forms)
    routes = [text(r.find_element(By.CSS_SELECTOR, "td.route")) for r in rows]

    href = by_id(b, "download").get_attribute("href")
    assert urllib.parse.urlsplit(href).path == console.cookie_path + "export.csv", href
    r = fetch(href, headers=cookie_header(b))
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/csv"), r.headers
    assert r.headers["content-disposition"] == 'attachment; filename="chathooks-events.csv"'
    assert r.headers.get("cache-control") == "no-store" and r.headers.get("x-content-type-options") == "nosniff"
    body = r.body
    assert body.startswith(b"\xef\xbb\xbf"), body[:20]
    table = list(csv.reader(io.StringIO(body[3:].decode("utf-8"), newline=""), dialect="excel"))
    assert body.endswith(b"\r\n") and body.count(b"\r\n") >= len(table), "every record ends with CRLF"
    assert body.split(b"\r\n", 1)[0].count(b"\n") == 0, "the header line ends with CRLF"
    header, data = table[0], table[1:]
    for column in ("受信日時", "送信元", "イベント", "リクエストID", "チャットID", "処理結果"):
        assert column in header, header
    col = {name: header.index(name) for name in header}
    assert data and all(row[col["イベント"]] == "form" and row[col["送信元"]] == "chatdealer" for row in data), data
    assert console.samples["chatdealer-form"] in [row[col["リクエストID"]] for row in data]
    assert "名前" in header and "らくす太郎" in [row[col["名前"]] for row in data]
    # The same bytes as `chathooks export` with the same filter.
    cli = console.cli("export", "--source", "chatdealer", "--event", "form")
    assert cli.returncode == 0, cli.stderr
    assert body == cli.stdout
    # The contract: td.route says source/event.
    assert all("chatdealer/form" in route for route in routes), routes


def test_a_form_as_a_table_of_items(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    rid = console.samples["chatdealer-form"]
    event_page(b, console, rid, shots, "event-form")
    cells = [(text(tr.find_element(By.TAG_NAME, "th")).strip(), text(tr.find_element(By.TAG_NAME, "td")).strip())
             for tr in table_rows(b, "form-items") if tr.find_elements(By.TAG_NAME, "td")]
    sample = itkit.sample("chatdealer-form")
    expected = [(i["item_name"], i["item_value"]) for i in sample["item"]]
    found = [c for c in cells if c in expected]
    assert found == expected, cells
    raw = json.loads(text(by_id(b, "raw")))
    assert raw["request_id"] == rid and raw["payload"] == sample
    assert table_rows(b, "outcomes"), "no outcome shown"
    for form in css(b, "form.replay"):
        assert form.get_attribute("method").lower() == "post"
        assert form.find_element(By.CSS_SELECTOR, 'input[name="id"]').get_attribute("value") == rid
        assert form.find_element(By.CSS_SELECTOR, 'input[name="csrf"]').get_attribute("type") == "hidden"
    for which in ("all", "append", "mail"):
        replay_button(b, which)
    assert not css(b, "#replay-command"), "no command action is configured for forms"
    assert_inert(b, console)


def test_a_transcript_as_a_conversation(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    rid = console.samples["chatdealer-chat-end"]
    event_page(b, console, rid, shots, "event-chat-end")
    messages = css(b, "ol#transcript li.msg")
    detail = itkit.sample("chatdealer-chat-end")["chat_detail"]
    assert len(messages) == len(detail), b.driver.page_source[:3000]
    for li, m in zip(messages, detail):
        assert m["post_user"] in text(li.find_element(By.CSS_SELECTOR, ".who"))
        assert text(li.find_element(By.CSS_SELECTOR, ".text")).strip() == m["msg"]
        assert m["post_date"].split(" ")[1] in text(li.find_element(By.CSS_SELECTOR, ".time"))
    assert_inert(b, console)


def test_spalo_data_as_a_table_without_its_key_or_hash(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    rid = console.samples["spalo-send"]
    event_page(b, console, rid, shots, "event-spalo-send")
    data = text(by_id(b, "spalo-data"))
    for item in itkit.sample("spalo-send")["dataDetail"]:
        assert item["title"] in data and item["value"] in data, data
    raw = text(by_id(b, "raw"))
    assert "webhookKey" not in raw and "secretHash" not in raw and "$2b$" not in b.driver.page_source
    assert_inert(b, console)


def test_replay_one_action_then_all_from_the_event_page(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    rid = console.samples["chatdealer-form"]
    event_page(b, console, rid, shots, "event-before-replay")
    before_rows = len(table_rows(b, "outcomes"))
    before = len(outcome_lines(console, rid, "replay"))
    mails = len(console.smtp.messages)
    submit(b, replay_button(b, "append"), shots, "event-after-replay-append")
    assert text(by_id(b, "notice")).strip(), b.driver.page_source[:2000]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)
    assert query.get("id") == [rid], b.driver.current_url
    replays = outcome_lines(console, rid, "replay")
    assert len(replays) == before + 1, replays
    assert [(a["type"], a["outcome"]) for a in replays[-1]["actions"]] == [("append", "done")]
    assert len(table_rows(b, "outcomes")) > before_rows, "the page shows the new replay"
    assert len(console.smtp.messages) == mails, "replaying the append sends no mail"

    submit(b, replay_button(b, "all"), shots, "event-after-replay-all")
    assert text(by_id(b, "notice")).strip()
    replays = outcome_lines(console, rid, "replay")
    assert len(replays) == before + 2
    assert sorted((a["type"], a["outcome"]) for a in replays[-1]["actions"]) == [("append", "done"), ("mail", "done")]
    assert len(console.smtp.wait_for(mails + 1, timeout=TIMEOUT)) == mails + 1
    assert_inert(b, console)


# --- Problems: a broken sendmail, mended, and the spool retried from the page ------------------

def test_mend_a_broken_sendmail_and_retry_the_spooled_mail(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    away = console.sendmail.with_name("sendmail.away")
    console.sendmail.rename(away)
    try:
        form = dict(itkit.sample("chatdealer-form"), chat_id="spool-1")
        r = console.post_event("chatdealer-form", form)
        assert r.status == 202 and "spooled" in r.json["deferred"][0], r.body
        rid = r.json["id"]
        assert [p.name.startswith(rid) for p in console.spooled()] == [True], console.spooled()
        open_page(b, console, "problems", shots, "problems-spooled")
        assert rid in inner_html(b, "spool"), "the spooled mail is listed"
        assert "sendmail" in text(by_id(b, "spool")), "with its reason"
        assert rid in inner_html(b, "failed"), "the deferred action is listed"
        # Retried while still broken: nothing sent, it stays.
        submit(b, by_id(b, "retry-button"), shots, "problems-retry-still-broken")
        assert first_number(text(by_id(b, "notice"))) == 0, text(by_id(b, "notice"))
        assert len(console.spooled()) == 1
    finally:
        if away.exists():
            away.rename(console.sendmail)
    mails = len(console.smtp.messages)
    open_page(b, console, "problems", shots, "problems-mended")
    submit(b, by_id(b, "retry-button"), shots, "problems-after-retry")
    notice = text(by_id(b, "notice"))
    assert first_number(notice) == 1, f"#notice says how many were sent: {notice!r}"
    assert console.spooled() == []
    [m] = console.smtp.wait_for(mails + 1, timeout=TIMEOUT)[mails:]
    assert m.message["Subject"].startswith("[フォーム回答]")
    retries = outcome_lines(console, rid, "retry")
    assert retries and retries[-1]["actions"][-1]["outcome"] == "done", retries
    open_page(b, console, "problems", shots, "problems-clean")
    assert rid not in inner_html(b, "spool", may_be_absent=True)
    assert rid not in inner_html(b, "failed", may_be_absent=True), "its latest outcome is done"
    assert_inert(b, console)


# --- Hostile values render as text ----------------------------------------------------------------

def hostile_form():
    """Every field a form answer carries as free text (the dates are checked by
    the receiver: a hostile one is refused with 400 before anything is kept)."""
    form = itkit.sample("chatdealer-form")
    form.update(subject=HOSTILE[1], content="\n".join(HOSTILE), chat_id=HOSTILE[0], visitor_id=HOSTILE[3],
                unknown_field=HOSTILE[2])
    form["item"] = [{"item_name": h, "item_value": h} for h in HOSTILE] + \
                   [{"item_name": "URL", "item_value": "javascript:alert(1)"}]
    return form


def hostile_chat_end():
    chat = itkit.sample("chatdealer-chat-end")
    # chat_id names the append action's file (data/chats/{chat_id}.jsonl): hostile, but a file name.
    chat.update(chat_id="\"><img src=x onerror=alert(1)>", visitor_id=HOSTILE[0], visitor_key=HOSTILE[3],
                page_url=HOSTILE[2], page_title=HOSTILE[1] + HOSTILE[4], unknown_field=HOSTILE[0])
    chat["chat_detail"] = [{"msg_type": "visitor", "post_user": h, "post_date": f"2020/12/10 18:2{i}:00", "msg": h}
                           for i, h in enumerate(HOSTILE)]
    return chat


def hostile_scenario():
    scenario = itkit.sample("chatdealer-scenario")
    scenario.update(chat_id=HOSTILE[3], visitor_id=HOSTILE[1], page_url=HOSTILE[2])
    scenario["parameter"] = [{h: h} for h in HOSTILE]
    return scenario


def test_hostile_values_in_every_field_render_as_text(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    form, chat, scenario = hostile_form(), hostile_chat_end(), hostile_scenario()
    r1 = console.post_event("chatdealer-form", form)
    r2 = console.post_event("chatdealer-chat-end", chat)
    r3 = console.post_event("chatdealer-scenario", scenario)
    assert (r1.status, r2.status, r3.status) == (200, 200, 200), (r1.body, r2.body, r3.body, console.error_log())
    fid, cid, sid = r1.json["id"], r2.json["id"], r3.json["id"]

    event_page(b, console, fid, shots, "hostile-form")
    assert_inert(b, console)
    items = text(by_id(b, "form-items"))
    for h in HOSTILE:
        assert h in items, f"{h[:40]!r} is not on the page as text"
    cells = [(text(tr.find_element(By.TAG_NAME, "th")), text(tr.find_element(By.TAG_NAME, "td")))
             for tr in table_rows(b, "form-items") if tr.find_elements(By.TAG_NAME, "td")]
    for h in HOSTILE:
        assert any(h in th and h in td for th, td in cells), f"{h[:40]!r} as an item's name and value"
    assert json.loads(text(by_id(b, "raw")))["payload"] == form
    body = text(b.driver.find_element(By.TAG_NAME, "body"))
    assert HOSTILE[1] in body and HOSTILE[0] in body  # subject, chat id

    event_page(b, console, cid, shots, "hostile-chat-end")
    assert_inert(b, console)
    messages = css(b, "ol#transcript li.msg")
    assert len(messages) == len(HOSTILE)
    for li, h in zip(messages, HOSTILE):
        assert h in text(li.find_element(By.CSS_SELECTOR, ".text"))
        assert h in text(li.find_element(By.CSS_SELECTOR, ".who"))
    assert json.loads(text(by_id(b, "raw")))["payload"] == chat
    body = text(b.driver.find_element(By.TAG_NAME, "body"))
    assert "javascript:alert(1)" in body and chat["chat_id"] in body

    event_page(b, console, sid, shots, "hostile-scenario")
    assert_inert(b, console)
    assert json.loads(text(by_id(b, "raw")))["payload"] == scenario
    body = text(b.driver.find_element(By.TAG_NAME, "body"))
    for h in HOSTILE:
        assert h in body, f"{h[:40]!r} is not on the page as text"

    # The list, and a search for a hostile value: in the text, and back in the field as it was typed.
    open_page(b, console, "events", shots, "hostile-events")
    assert_inert(b, console)
    whos = [text(td) for td in css(b, "table#events tr.event td.who")]
    assert any(HOSTILE[0] in w for w in whos) and any(chat["chat_id"] in w for w in whos), whos[:5]
    assert any(HOSTILE[3] in w for w in whos), "the RTL override, as text"
    query = urllib.parse.urlencode({"q": HOSTILE[1]})
    open_page(b, console, f"events?{query}", shots, "hostile-search")
    assert_inert(b, console)
    assert b.driver.find_element(By.CSS_SELECTOR, 'form#filter [name="q"]').get_attribute("value") == HOSTILE[1]
    found = [a.get_attribute("href") for a in css(b, "table#events tr.event a.open")]
    assert {fid, cid} <= {event_id_of(h) for h in found}, found
    download = urllib.parse.parse_qs(urllib.parse.urlsplit(by_id(b, "download").get_attribute("href")).query)
    assert download.get("q") == [HOSTILE[1]]

    # The overview and the rejections list carry the newest values too.
    for page in ("", "problems", "rejections"):
        open_page(b, console, page, shots, f"hostile-{page or 'overview'}")
        assert_inert(b, console)


# --- Paging and the filters over more than a page ---------------------------------------------------

def all_pages(b, console, page, shots, name, pages=10):
    """The request ids of every row, following #next-page to the end (bounded),
    or through the first `pages` pages only."""
    open_page(b, console, page, shots, f"{name}-1")
    seen = []
    for n in range(2, pages + 2):
        seen += [event_id_of(h) for h in b.driver.execute_script(
            "return [...document.querySelectorAll('table#events tr.event a.open')].map(a => a.href)")]
        assert_inert(b, console)
        following = css(b, "a#next-page")
        if not following or n == pages + 1:
            return seen
        submit(b, following[0], shots, f"{name}-{n}", screenshot=False)
    raise AssertionError(f"more than {pages} pages of {page}")


def test_events_are_paged_newest_first_and_filtered_with_nothing_lost(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    for i in range(101):  # 50 a page: three pages of these alone
        body = dict(itkit.sample("chatdealer-chat-start"), chat_id=f"pager-{i}", visitor_id=f"pager-visitor-{i}",
                    page_title="pager-title")
        r = console.post_event("chatdealer-chat-start", body)
        assert r.status == 200, r.body
    records = console.journal_records()
    newest_first = [r["request_id"] for r in reversed(records)]
    assert len(newest_first) > 100, "more than two pages"

    assert all_pages(b, console, "events", shots, "all") == newest_first
    titled = [r["request_id"] for r in reversed(records) if r["payload"].get("page_title") == "pager-title"]
    assert all_pages(b, console, "events?q=pager-title", shots, "search") == titled
    starts = [r["request_id"] for r in reversed(records) if r["event"] == "chat-start"]
    assert all_pages(b, console, "events?source=chatdealer&event=chat-start", shots, "chat-start", pages=1) == starts[:50]

    today = records[-1]["received_at"][:10]
    first = records[0]["received_at"][:10]
    if first == today:  # every event arrived today (the test did not run across midnight)
        assert all_pages(b, console, f"events?from={today}&to={today}", shots, "today", pages=1) == newest_first[:50]
        assert all_pages(b, console, "events?to=2000-01-01", shots, "long-ago") == []
        assert all_pages(b, console, "events?from=2999-12-31", shots, "future") == []


# --- Headers ---------------------------------------------------------------------------------------

def check_security_headers(r, what):
    csp = {d.strip() for d in r.headers.get("content-security-policy", "").split(";") if d.strip()}
    assert csp == CSP_DIRECTIVES, (what, r.headers.get("content-security-policy"))
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (what, name, r.headers.get(name))
    assert r.headers.get("content-type", "").lower().replace(" ", "") == "text/html;charset=utf-8", (what, r.headers)


def test_security_headers_on_every_page(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    cookie = cookie_header(b)
    pages = HTML_PAGES + tuple(f"event?id={rid}" for rid in console.samples.values())
    for page in pages:
        r = fetch(console.url(page), headers=cookie)
        assert r.status == 200, (page, r)
        check_security_headers(r, page)
    r = fetch(console.url("login"))  # not logged in
    assert r.status == 200
    check_security_headers(r, "login")
    # The only stylesheet: served, and the one every page links.
    css_reply = fetch(console.url("style.css"))
    assert css_reply.status == 200 and css_reply.headers["content-type"].startswith("text/css")
    assert css_reply.headers.get("x-content-type-options") == "nosniff"
    open_page(b, console, "", shots, "overview-for-stylesheet")
    sheets = [link.get_attribute("href") for link in css(b, 'link[rel~="stylesheet"]')]
    assert sheets == [console.url("style.css")], sheets
    assert css(b, "style, [style]") == [], "no inline style (the CSP's style-src 'self' forbids it)"


# --- Refused: no token, a foreign Origin, an expired session ---------------------------------------

def test_a_post_without_the_token_or_from_another_origin_is_refused(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    rid = console.samples["chatdealer-chat-end"]
    event_page(b, console, rid, shots, "csrf-event")
    token = csrf_of(b)
    cookie = cookie_header(b)
    count = len(outcome_lines(console, rid, "replay"))

    # In the browser: the form with its token taken out.
    b.driver.execute_script("document.querySelectorAll('form.replay input[name=csrf]').forEach(e => e.remove())")
    submit(b, replay_button(b, "all"), shots, "csrf-missing-in-browser")
    assert css(b, "#error") and text(by_id(b, "error")).strip(), b.driver.page_source[:2000]
    assert len(outcome_lines(console, rid, "replay")) == count

    good = {"csrf": token, "id": rid, "only": "append"}
    same = {"Origin": console.origin, **cookie}
    refused = [
        ("no csrf", {"id": rid, "only": "append"}, same),
        ("a wrong csrf", dict(good, csrf=token[:-1] + ("A" if token[-1] != "A" else "B")), same),
        ("an empty csrf", dict(good, csrf=""), same),
        ("a foreign Origin", good, {"Origin": "http://evil.example", **cookie}),
        ("another port", good, {"Origin": f"http://127.0.0.1:{console.stack.port + 1}", **cookie}),
        ("https for http", good, {"Origin": console.origin.replace("http://", "https://"), **cookie}),
        ("no Origin", good, cookie),
        ("no session", good, {"Origin": console.origin}),
    ]
    for why, fields, headers in refused:
        r = fetch(console.url("replay"), fields, headers)
        assert r.status == 403, (why, r)
        assert b'id="error"' in r.body, (why, r.body[:500])
    for page in ("retry", "logout"):
        r = fetch(console.url(page), {}, same)
        assert r.status == 403, (page, r)
    assert len(outcome_lines(console, rid, "replay")) == count, "nothing refused was run"

    # The control: the same request with everything right is done (so the refusals above are for their reason).
    r = fetch(console.url("replay"), good, same)
    assert r.status == 303, r
    assert len(outcome_lines(console, rid, "replay")) == count + 1
    assert urllib.parse.urljoin(console.url("replay"), r.headers["location"]).startswith(console.url("event?"))


def test_an_expired_session_is_refused(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    rid = console.samples["chatdealer-form"]
    event_page(b, console, rid, shots, "expiry-event")
    token, cookie = csrf_of(b), cookie_header(b)
    files = [p for p in console.sessions.iterdir() if p.is_file()]
    assert files, f"no session file under {console.sessions}"
    nine_hours_ago = time.time() - 9 * 3600
    for p in files:
        os.utime(p, (nine_hours_ago, nine_hours_ago))
    count = len(outcome_lines(console, rid, "replay"))
    r = fetch(console.url("replay"), {"csrf": token, "id": rid, "only": "append"}, {"Origin": console.origin, **cookie})
    assert r.status == 403, r
    assert len(outcome_lines(console, rid, "replay")) == count
    r = fetch(console.url("events"), headers=cookie)
    assert r.status == 303, r
    assert urllib.parse.urlsplit(urllib.parse.urljoin(console.url("events"), r.headers["location"])).path == \
        console.cookie_path + "login"
    open_page(b, console, "", shots, "expired-to-login")
    assert on_login_page(b, console), b.driver.current_url
    # A new log-in gives a new session that works.
    assert not log_in(b, console, shots, name="login-again")
    assert css(b, "#logout-button") and session_cookie(b)["value"] != cookie["Cookie"].split("=", 1)[1]


def test_logout_ends_the_session(console, browser, shots):
    b = browser
    ensure_logged_in(b, console, shots)
    cookie = cookie_header(b)
    submit(b, by_id(b, "logout-button"), shots, "logged-out")
    assert on_login_page(b, console), b.driver.current_url
    r = fetch(console.url(""), headers=cookie)
    assert r.status == 303, "the old cookie no longer opens a page"
    assert not log_in(b, console, shots, name="login-after-logout")
    assert css(b, "#logout-button")


def test_the_sixth_wrong_password_is_locked_out(console, browser, shots):
    """Five failures from one address (four through urllib, the fifth typed in
    the browser), then the right password: 429, in the browser too, and each
    refusal is a line in rejections.jsonl and on the rejections page."""
    b = browser
    ensure_logged_in(b, console, shots)
    kept = session_cookie(b)  # a session from before the lock, to read the rejections page after it

    def login_rejections():
        return [j for j in console.rejections() if j.get("route") == "admin/login" and j.get("status") in (401, 429)]

    assert login_rejections() == [], "no test before this one fails a log-in (the throttle counts them all)"
    for _ in range(4):
        r = fetch(console.url("login"), {"password": WRONG_PASSWORD}, {"Origin": console.origin})
        assert r.status == 401, r
        assert b'id="error"' in r.body and SESSION_COOKIE not in r.headers.get("set-cookie", "")
        check_security_headers(r, "a failed log-in")

    b.driver.delete_all_cookies()
    log_in(b, console, shots, password=WRONG_PASSWORD, name="wrong-password")
    assert on_login_page(b, console) and text(by_id(b, "error")).strip(), b.driver.page_source[:2000]
    assert not [c for c in b.driver.get_cookies() if c["name"] == SESSION_COOKIE]
    assert_inert(b, console)

    r = fetch(console.url("login"), {"password": ADMIN_PASSWORD}, {"Origin": console.origin})
    assert r.status == 429, f"the sixth try is locked out, even with the right password: {r}"
    assert int(r.headers["retry-after"]) > 0
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert b'id="error"' in r.body
    check_security_headers(r, "a locked log-in")
    lines = login_rejections()
    assert [j["status"] for j in lines] == [401] * 5 + [429], lines
    assert all(j.get("remote_addr") == "127.0.0.1" for j in lines), lines

    assert log_in(b, console, shots, name="locked-out"), "the lock names why"
    assert css(b, "#error") and not css(b, "#logout-button"), b.driver.page_source[:2000]
    assert not [c for c in b.driver.get_cookies() if c["name"] == SESSION_COOKIE]
    assert [j["status"] for j in login_rejections()][-1] == 429

    # The session from before the lock still opens the rejections page: the newest first.
    b.driver.add_cookie({k: kept[k] for k in ("name", "value", "path", "httpOnly", "sameSite") if k in kept})
    open_page(b, console, "rejections", shots, "rejections-after-lockout")
    rows = [tr for tr in table_rows(b, "rejections") if tr.find_elements(By.CSS_SELECTOR, "td.status")]
    assert len(rows) >= 7, b.driver.page_source[:2000]
    newest = rows[0]
    assert "admin/login" in text(newest.find_element(By.CSS_SELECTOR, "td.route"))
    assert "127.0.0.1" in text(newest.find_element(By.CSS_SELECTOR, "td.remote"))
    assert text(newest.find_element(By.CSS_SELECTOR, "td.reason")).strip()
    assert text(newest.find_element(By.CSS_SELECTOR, "td.time")).strip()
    statuses = [text(r.find_element(By.CSS_SELECTOR, "td.status")).strip() for r in rows[:7]]
    assert statuses == ["429"] * 2 + ["401"] * 5, statuses
    page = b.driver.page_source
    assert WRONG_PASSWORD not in page and ADMIN_PASSWORD not in page, "a refusal never quotes the password tried"
    assert_inert(b, console)


def test_without_an_admin_block_the_console_is_404(console):
    config = console.config_path.read_text(encoding="utf-8")
    stat = console.config_path.stat()
    try:
        console.config_path.write_text(without_admin(config), encoding="utf-8")
        later = stat.st_mtime + 2
        os.utime(console.config_path, (later, later))  # a change the FastCGI process cannot miss
        unknown = fetch(console.base.replace("/admin/", "/no-such-route/"))
        assert unknown.status == 404
        for page in ("", "login", "events", "problems", "rejections", "export.csv", "style.css",
                     f"event?id={console.samples['chatdealer-form']}"):
            r = fetch(console.url(page))
            assert r.status == 404, (page, r)
            assert b"login" not in r.body and b"<form" not in r.body, (page, r.body[:300])
            if console.kind == "apache-htaccess":
                assert r.headers.get("content-type") == unknown.headers.get("content-type"), (page, r.headers)
        r = fetch(console.base.rstrip("/"))
        assert r.status == 404, r
        r = fetch(console.url("login"), {"password": ADMIN_PASSWORD}, {"Origin": console.origin})
        assert r.status == 404, r
    finally:
        console.config_path.write_text(config, encoding="utf-8")
        os.chown(console.config_path, stat.st_uid, stat.st_gid)
        os.chmod(console.config_path, stat.st_mode & 0o7777)
