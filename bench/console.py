"""Section 8 of `make bench` (bench/run.py): the console (issue 13) on a journal of
1,000,000 events, as CGI.

The journal and its outcomes are written by bench/console_data.py once and kept in
bench/work/console-data/ (a full `make bench` keeps that folder; it is written
again when the generator changes or the data is more than a week old: the
overview counts the last 14 days from now). Each run links those files into a
site of its own (bench/work/.../console/<layout>/data/), so the counts cache,
sessions and rejections the console writes start empty every run. Two layouts:
one plain `journal.jsonl` (rotate none) and monthly files (`journal-2026-10.jsonl`, …),
the same lines in both.

Each page is asked for as a web server would run the CGI file: the static
`chathooks` with the request's meta-variables as its whole environment, a
session cookie from a real POST to admin/login (bcrypt cost 4), and timed by
bench/c/runner.c (wall time, CPU, peak RSS; the page cache warm: every file was
read just before). Every answer is checked first (status 200 and what the page
must hold, e.g. 50 `<tr class="event">` rows), so that a fast error page cannot
pass for a fast page.
"""
import csv
import datetime
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import console_data

EVENTS = 1_000_000
DATA_MAX_AGE_DAYS = 7
PASSWORD = "bench-console-password"
SCRIPT_NAME = "/c/chathooks.cgi"
HOST = "localhost"
# The newest page as CGI on 1,000,000 events (issue 13).
NEWEST_TARGET_MS = 200.0


def quick():
    return os.environ.get("BENCH_QUICK") == "1"


# ---------------------------------------------------------------- the data

def prepare(cache, events=EVENTS, say=print):
    """The journal in `cache` (monthly/ and plain/), written unless already there and recent; its facts."""
    stamp = cache / "facts.json"
    now = datetime.datetime.now(console_data.JST)
    if stamp.exists():
        facts = json.loads(stamp.read_text())
        written = datetime.datetime.fromisoformat(facts["written"])
        if (facts.get("version") == console_data.GENERATOR_VERSION and facts["count"] == events
                and now - written < datetime.timedelta(days=DATA_MAX_AGE_DAYS)
                and all((cache / "monthly" / n).stat().st_size == s for n, s in facts["journal_files"])):
            say(f"console: the journal of {events:,} events in {cache} (written {facts['written'][:16]})")
            return facts
    say(f"console: writing a journal of {events:,} events into {cache} (once; about a minute)")
    if cache.exists():
        shutil.rmtree(cache)
    (cache / "plain").mkdir(parents=True)
    started = time.monotonic()
    # Ends a minute ago: the newest events are today's, as on a live site.
    end = (now - datetime.timedelta(minutes=1)).replace(second=0, microsecond=0)
    facts = console_data.write(str(cache / "monthly"), "monthly", events, end)
    # The plain layout: the same lines, one file each (the monthly files end to end).
    for stream, files in (("journal", facts["journal_files"]), ("outcomes", facts["outcomes_files"])):
        with open(cache / "plain" / f"{stream}.jsonl", "wb") as out:
            for name, _ in files:
                with open(cache / "monthly" / name, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
    # Where each landmark is in the plain file.
    base, at = 0, {}
    for name, size in facts["journal_files"]:
        at[name] = base
        base += size
    facts["plain_landmarks"] = {}
    for k, l in facts["landmarks"].items():
        name, offset = l["at"].split(":")
        facts["plain_landmarks"][k] = dict(l, at=f"journal.jsonl:{at[name] + int(offset)}")
    facts["plain_size"] = base
    facts["version"] = console_data.GENERATOR_VERSION
    facts["written"] = now.isoformat()
    facts["seconds"] = time.monotonic() - started
    stamp.write_text(json.dumps(facts, ensure_ascii=False, indent=1))
    say(f"console: written in {facts['seconds']:.0f} s ({base / 1e6:,.0f} MB of journal)")
    return facts


def config_text(password_hash, rotate):
    """The site's chathooks.json5: the journal, the console, and the actions whose outcomes the data has."""
    return f"""{{
  journal: {{ path: "data/journal.jsonl", rotate: "{rotate}" }},
  admin: {{ passwordHash: "{password_hash}" }},
  chatdealer: {{
    auth: {{ header: "X-Chathooks-Token", tokens: ["bench-console-token-0123456789abcdef"] }},
    events: {{
      "chat-start": {{ actions: [] }},
      "chat-message": {{ actions: [] }},
      "chat-end": {{ actions: [ {{ type: "append", path: "data/chats/{{chat_id}}.jsonl" }} ] }},
      "scenario": {{ actions: [] }},
      "form": {{ actions: [ {{ type: "append", path: "data/forms/{{date}}.jsonl" }},
                          {{ type: "mail", to: ["担当者 <ops@example.jp>"], from: "通知 <noreply@example.jp>",
                            sendmail: "/bin/false", spool: "data/spool" }} ] }},
    }},
  }},
  spalo: {{
    webhooks: [
      {{ name: "address", kind: "dataset", webhookKey: "D1D1D1D1A1A1A1A1B2B2B2B2C3C3C3C3E5E5E5E5",
        clientSecret: "bench-console-dataset-secret", source: {{ type: "static", values: [ {{ key: "住所", value: "東京都" }} ] }} }},
      {{ name: "stores", kind: "search", webhookKey: "S2S2S2S2A1A1A1A1B2B2B2B2C3C3C3C3E5E5E5E5",
        clientSecret: "bench-console-search-secret", source: {{ type: "static", values: [ "銀座店", "新宿店" ] }} }},
      {{ name: "answers", kind: "send", webhookKey: "A3A3A3A3A1A1A1A1B2B2B2B2C3C3C3C3E5E5E5E5",
        clientSecret: "bench-console-send-secret", actions: [ {{ type: "append", path: "data/spalo/{{date}}.jsonl" }} ] }},
    ],
  }},
}}
"""


def make_site(root, cache, layout, facts, password_hash):
    """A site folder: the config, and the cached journal linked (not copied) into data/."""
    if root.exists():
        shutil.rmtree(root)
    data = root / "data"
    data.mkdir(parents=True)
    src = cache / layout
    for f in sorted(src.iterdir()):
        os.link(f, data / f.name)
    # A few mails waiting in the spool, named as the mail action names them (<request id>-<index>.mail).
    spool = data / "spool"
    spool.mkdir()
    for rid in facts["rare"][:3]:
        (spool / f"{rid}-1.mail").write_text("To: ops@example.jp\nSubject: bench\n\nbench\n")
    config = root / "chathooks.json5"
    config.write_text(config_text(password_hash, "none" if layout == "plain" else "monthly"), encoding="utf-8")
    return config


# ---------------------------------------------------------------- CGI

def cgi_env(config, method, page, query="", cookie=None, extra=None):
    """The meta-variables a web server passes to `chathooks.cgi` for this request (the whole environment)."""
    env = {"PATH": "/usr/bin:/bin", "TZ": "Asia/Tokyo", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "SERVER_SOFTWARE": "bench", "SERVER_NAME": HOST, "SERVER_PORT": "80", "REQUEST_METHOD": method,
           "SCRIPT_NAME": SCRIPT_NAME, "PATH_INFO": page, "QUERY_STRING": query,
           "REQUEST_URI": SCRIPT_NAME + page + ("?" + query if query else ""), "HTTP_HOST": HOST,
           "REMOTE_ADDR": "127.0.0.1", "CHATHOOKS_CONFIG": str(config)}
    if cookie:
        env["HTTP_COOKIE"] = f"chathooks_session={cookie}"
    env.update(extra or {})
    return env


def split_response(raw):
    """(status, headers as a list of (name, value), body) of a CGI response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return 0, [], raw
    headers = []
    status = 200
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
        if name.lower() == "status":
            status = int(value.split()[0])
    return status, headers, body


def login(binary, config):
    body = f"password={PASSWORD}".encode()
    env = cgi_env(config, "POST", "/admin/login", extra={
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
        "HTTP_ORIGIN": f"http://{HOST}"})
    p = subprocess.run([str(binary)], input=body, capture_output=True, env=env, timeout=60)
    status, headers, _ = split_response(p.stdout)
    for name, value in headers:
        m = re.match(r"chathooks_session=([0-9a-f]+)", value) if name.lower() == "set-cookie" else None
        if m:
            return m.group(1)
    sys.exit(f"bench: console: the login answered {status} without a session cookie: {p.stdout[:300]!r} {p.stderr[:300]!r}")


# ---------------------------------------------------------------- the pages

def rows(body):
    return body.count(b'<tr class="event">')


def cases(facts, layout):
    """(key, what, path, query, runs, check, reset_cache): every page timed, and what its answer must hold."""
    marks = facts["plain_landmarks"] if layout == "plain" else facts["landmarks"]
    middle, oldest, newest = marks["middle"], marks["oldest"], marks["newest"]
    mid_day = middle["time"][:10]
    q = quick()
    n_fast, n_scan, n_slow = (5, 2, 1) if q else (40, 10, 5)

    def page_of(n, *needles, next_page=True):
        def check(status, body):
            problems = []
            if status != 200:
                problems.append(f"status {status}")
            if rows(body) != n:
                problems.append(f"{rows(body)} event rows, not {n}")
            if next_page and b'id="next-page"' not in body:
                problems.append("no #next-page")
            for s in needles:
                if s.encode() not in body:
                    problems.append(f"no {s!r}")
            return problems
        return check

    def holds(*needles, status_ok=200):
        def check(status, body):
            return ([f"status {status}"] if status != status_ok else []) + [f"no {s!r}" for s in needles if s.encode() not in body]
        return check

    # What one event's page shows besides the raw line, by its kind.
    shows = {"chatdealer/form": 'id="form-items"', "chatdealer/chat-end": 'id="transcript"',
             "chatdealer/chat-message": 'id="transcript"', "spalo/dataset": 'id="spalo-data"',
             "spalo/search": 'id="spalo-data"', "spalo/send": 'id="spalo-data"'}

    def event_check(mark):
        return holds(mark["id"], 'id="raw"', *([shows[mark["route"]]] if mark["route"] in shows else []))

    def rare_check(status, body):
        shown = facts["rare"][-50:]  # the newest 50, newest first
        problems = page_of(len(shown), next_page=len(facts["rare"]) > 50)(status, body)
        problems += [f"rare event {rid} missing" for rid in shown if rid.encode() not in body]
        return problems

    def day_check(status, body):
        problems = page_of(50)(status, body)
        times = re.findall(rb'<td class="time">([^<]*)</td>', body)
        wrong = [t for t in times if mid_day.encode() not in t.replace(b"/", b"-")]
        if wrong:
            problems.append(f"{len(wrong)} rows not of {mid_day}: {wrong[0]!r}")
        return problems

    def export_check(status, body):
        problems = [f"status {status}"] if status != 200 else []
        # Excel's dialect: a form's content holds CRLFs of its own, inside quotes.
        lines = len(list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))) - 1
        if lines != facts["days"][mid_day]:
            problems.append(f"{lines} CSV rows, not {facts['days'][mid_day]}")
        return problems

    return [
        ("newest", "events, newest page", "/admin/events", "", n_fast, page_of(50, newest["id"]), False),
        ("page2", "events, second page (the cursor)", "/admin/events", None, n_fast, page_of(50), False),
        ("overview-first", "overview, first visit (counts every line, writes the cache)", "/admin/", "", n_scan,
         holds('<svg id="chart"', 'id="last-events"', newest["id"], '<pre id="check">'), True),
        ("overview", "overview, later visits (the counts cache)", "/admin/", "", n_fast,
         holds('<svg id="chart"', 'id="last-events"', newest["id"], '<pre id="check">'), False),
        ("filter-form", "events, source=chatdealer&event=form (3 %)", "/admin/events", "source=chatdealer&event=form",
         n_fast, page_of(50), False),
        ("filter-send", "events, source=spalo&event=send (2 %)", "/admin/events", "source=spalo&event=send",
         n_fast, page_of(50, "answers</span>"), False),
        ("filter-none", "events, source=spalo&event=chat-start (matches nothing: every line's head)", "/admin/events",
         "source=spalo&event=chat-start", n_scan, holds('id="no-events"'), False),
        ("day", f"events, from=to={mid_day} (the middle day)", "/admin/events", f"from={mid_day}&to={mid_day}", n_scan,
         day_check, False),
        ("q-none", "events, q=nomatchxyz (the whole journal searched, nothing found)", "/admin/events", "q=nomatchxyz",
         n_scan, holds('id="no-events"'), False),
        ("q-rare", f"events, q={console_data.RARE} ({len(facts['rare'])} events over the whole journal)", "/admin/events",
         "q=" + console_data.RARE.replace("@", "%40"), n_scan, rare_check, False),
        ("event-at", f"one event, with at=file:offset (from the middle: {middle['route']})", "/admin/event",
         f"id={middle['id']}&at={middle['at'].replace(':', '%3A')}", n_fast,
         event_check(middle), False),
        ("event-newest", "one event without at (the newest)", "/admin/event", f"id={newest['id']}", n_fast,
         event_check(newest), False),
        ("event-middle", "one event without at (from the middle: searched for)", "/admin/event", f"id={middle['id']}",
         n_scan, event_check(middle), False),
        ("event-oldest", "one event without at (the oldest: the whole journal searched)", "/admin/event",
         f"id={oldest['id']}", n_scan, event_check(oldest), False),
        ("problems", "problems (30 days of outcomes)", "/admin/problems", "", n_fast,
         holds('<table id="failed">', 'class="problem"', '<table id="spool">'), False),
        ("rejections", "rejections", "/admin/rejections", "", n_fast, holds('id="rejections-today"'), False),
        ("export-day", f"export.csv?from=to={mid_day} (one day's CSV)", "/admin/export.csv",
         f"from={mid_day}&to={mid_day}", n_slow, export_check, False),
    ]


def summary(rows_):
    walls = sorted(r[0] for r in rows_)
    p95 = walls[min(len(walls) - 1, max(0, int(round(0.95 * len(walls))) - 1))]
    return {"n": len(walls), "wall": statistics.median(walls), "p95": p95, "min": walls[0], "max": walls[-1],
            "cpu": statistics.median(r[1] for r in rows_), "rss": max(r[2] for r in rows_)}


def measure(binary, runner, root, cache, layout, facts, password_hash, say=print, note=None):
    """Every page of `cases` on one layout: {key: summary}, with what each one was."""
    import bcrypt  # noqa: F401  (checked by the caller; the hash is made there)
    config = make_site(root, cache, layout, facts, password_hash)
    cookie = login(binary, config)
    counts_cache = root / "data" / "console" / "cache"
    body_file = root / "empty-body"
    body_file.write_bytes(b"")
    # The page cache warm, as on a site in use: every file read once.
    for f in (root / "data").glob("*.jsonl"):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    out = {}
    cursor = None
    for key, what, page, query, runs, check, reset in cases(facts, layout):
        if query is None:
            query = cursor
        env = cgi_env(config, "GET", page, query, cookie)
        if reset and counts_cache.exists():
            shutil.rmtree(counts_cache)
        started = time.monotonic()
        p = subprocess.run([str(binary)], stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=600)
        once = time.monotonic() - started
        status, _, body = split_response(p.stdout)
        problems = check(status, body)
        if problems:
            sys.exit(f"bench: console ({layout}) {key}: {'; '.join(problems)}\n{p.stdout[:400]!r}\n{p.stderr[:800]!r}")
        if key == "newest":
            m = re.search(rb'id="next-page" href="events\?[^"]*before=([^"&]+)"', body)
            cursor = "before=" + m.group(1).decode() if m else ""
        if note:
            note(env, page, query)
        # Long ones: fewer runs.
        n = runs if once < 2 else max(1, runs // 5 if runs > 5 else 1)
        rows_ = []
        if reset:
            for _ in range(n):
                shutil.rmtree(counts_cache, ignore_errors=True)
                rows_ += run_timed(runner, binary, env, body_file, 1)
        else:
            rows_ = run_timed(runner, binary, env, body_file, n)
        s = summary(rows_)
        s.update(what=what, query=query, page=page, bytes=len(body))
        out[key] = s
        say(f"console ({layout}) {key}: median {s['wall']:.1f} ms, p95 {s['p95']:.1f} ms ({s['n']} runs, "
            f"peak RSS {s['rss'] / 1024:.1f} MiB)")
    cache_file = counts_cache / "counts.json"
    out["_cache_bytes"] = cache_file.stat().st_size if cache_file.exists() else 0
    return out


def run_timed(runner, binary, env, body_file, n):
    p = subprocess.run([str(runner), "time", str(n), str(body_file), "--", str(binary)], env=env,
                       capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        sys.exit(f"bench: console: the runner failed: {p.stderr[-800:]}")
    rows_ = []
    for line in p.stdout.splitlines():
        wall, user, sys_, rss, faults, status = map(int, line.split())
        if status != 0:
            sys.exit(f"bench: console: chathooks exited {status} under the runner")
        rows_.append((wall / 1e6, (user + sys_) / 1e3, rss, faults))
    return rows_


def read_rate(cache, facts):
    """What reading the journal costs without us: `cat` of every file to /dev/null and `grep -c` of a
    string in none of them (warm page cache), in ms: the floor of a whole-journal search."""
    files = [str(cache / "monthly" / n) for n, _ in facts["journal_files"]]
    out = {}
    for name, argv in (("cat", ["cat", *files]), ("grep", ["grep", "-c", "-F", "nomatchxyz", *files])):
        walls = []
        for _ in range(3):
            t = time.monotonic()
            subprocess.run(argv, stdout=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
            walls.append((time.monotonic() - t) * 1000)
        out[name] = statistics.median(walls)
    return out


def section(bin_dir, work, cache, say=print, note=None):
    """Section 8: both layouts; returns the figures for the report."""
    import bcrypt
    facts = prepare(cache, say=say)
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    figures = {"facts": {k: v for k, v in facts.items() if k not in ("days",)}, "layouts": {}}
    for layout in ("plain", "monthly"):
        figures["layouts"][layout] = measure(bin_dir / "chathooks", bin_dir / "runner", work / "console" / layout,
                                             cache, layout, facts, password_hash, say=say, note=note)
    figures["floor"] = read_rate(cache, facts)
    return figures


# ---------------------------------------------------------------- the report

def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def lines(fig):
    f = fig["facts"]
    L = []
    w = L.append
    size = f.get("plain_size") or sum(s for _, s in f["journal_files"])
    w("## 8. The console")
    w("")
    w(f"The console's pages as CGI (`chathooks.cgi/admin/…`) on a journal of **{f['count']:,} events** "
      f"({size / 1e6:,.0f} MB, {f['start'][:10]} to {f['end'][:10]}; the eight kinds mixed as a busy site gets them, "
      f"{f['kinds'].get('chatdealer/chat-message', 0) * 100 // f['count']} % chat-message; written by "
      f"bench/console_data.py) with its outcomes file ({sum(s for _, s in f['outcomes_files']) / 1e6:,.0f} MB). "
      "Each request is the static `chathooks` with a web server's meta-variables as its whole environment and a "
      "session from a real login, timed by bench/c/runner.c; every answer was checked first (status 200 and the "
      "page's content: 50 rows, the events it must show). The page cache is warm (every file read just before). "
      "**plain**: one `journal.jsonl`; **monthly**: `journal-YYYY-MM.jsonl` files (the same lines). Times in ms: "
      "wall time (median, p95) and the median user+sys CPU time (steadier than wall time on 2 shared cores); "
      "peak RSS is the largest of all runs.")
    w("")
    w("| page | plain median | plain p95 | plain CPU | monthly median | monthly p95 | monthly CPU | peak RSS MiB | runs |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    p, m = fig["layouts"]["plain"], fig["layouts"]["monthly"]
    for key in [k for k in m if not k.startswith("_")]:
        a, b = p[key], m[key]
        w(f"| {b['what']} | {fmt(a['wall'])} | {fmt(a['p95'])} | {fmt(a['cpu'])} | {fmt(b['wall'])} | {fmt(b['p95'])} | "
          f"{fmt(b['cpu'])} | {max(a['rss'], b['rss']) / 1024:.1f} | {a['n']}+{b['n']} |")
    w("")
    fl = fig["floor"]
    w(f"Reading the same journal without us (warm): `cat` of every file {fmt(fl['cat'])} ms, `grep -c -F nomatchxyz` "
      f"{fmt(fl['grep'])} ms. The whole-journal search (q=nomatchxyz) takes "
      f"{m['q-none']['wall'] / fl['grep']:.1f}× grep's time (monthly). The counts cache is "
      f"{m['_cache_bytes'] / 1024:.0f} KiB.")
    w("")
    return L


def targets(fig):
    """(name, value, limit, kind, detail, area, event), as bench/run.py's report takes them."""
    out = []
    for layout in ("plain", "monthly"):
        s = fig["layouts"][layout]["newest"]
        out.append((f"console: newest events page < {NEWEST_TARGET_MS:.0f} ms as CGI ({layout}, 1,000,000 events)",
                    s["wall"], NEWEST_TARGET_MS, "max", f"median of {s['n']}, p95 {s['p95']:.1f} ms", "console", "events"))
    return out


if __name__ == "__main__":
    # bench/console.py --prepare: write the cached journal only (bench/work/console-data/).
    if sys.argv[1:] == ["--prepare"]:
        prepare(Path(__file__).resolve().parent / "work" / "console-data")
    else:
        sys.exit("usage: bench/console.py --prepare   (the benchmark itself: bench/run.py --only console)")
