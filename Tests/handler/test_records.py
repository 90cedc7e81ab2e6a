"""The record files beside the journal (issue #12): the outcomes of each
accepted event's actions (and of later replays and retries), one line per
refused request in the rejections file (bounded, never the body nor a header's
value), and the journal's monthly or daily rotation with readers that read
across every file. Through the built executables: the receivers as CGI (and
the multi-call `chathooks` as one FastCGI process for the flood), the CLI as a
subprocess."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from cgi_site import BIN_DIR, TIMEOUT, TOKEN1, Site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from fastcgi_wire import BEGIN_REQUEST, PARAMS, RESPONDER, STDIN, name_value, read_streams, record  # noqa: E402
from stack import record_evidence
from test_handlers import SAMPLES, assert_ok

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")
CAP = 1 << 20   # RejectionLog.cap
KEEP = 3        # RejectionLog.keep

# Markers that must never reach a record file: a refused body and a refused token.
BODY_MARKER = "BODYMARKER-7f3e9a1c-private"
TOKEN_MARKER = "tok-WRONGMARKER-5d2b8c4e"
QUERY_MARKER = "QUERYMARKER-a1b2c3"

NOV = "2026-11-30T23:59:59.9+09:00"
DEC = "2026-12-01T00:00:00.1+09:00"


def config(*, rotate=None, events, max_body=4096):
    journal = 'journal: { path: "data/journal.jsonl", fsync: false%s },' % (
        f', rotate: "{rotate}"' if rotate else "")
    lines = ",\n      ".join(f'"{name}": {{ actions: [ {actions} ] }}' for name, actions in events.items())
    return f"""{{
  {journal}
  limits: {{ maxBodyBytes: {max_body} }},
  chatdealer: {{
    auth: {{ header: "X-Chathooks-Token", tokens: ["{TOKEN1}"] }},
    events: {{
      {lines},
    }},
  }},
}}
"""


APPEND = '{ type: "append", path: "data/chats/{chat_id}.jsonl" }'


def lines_of(path: Path) -> list[dict]:
    """Every line of a record file, each of which must be a whole JSON object."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path.name} ends in a torn line"
    out = []
    for raw in data.split(b"\n")[:-1]:
        value = json.loads(raw)
        assert isinstance(value, dict), raw
        out.append(value)
    return out


def data_files(site: Site, pattern: str) -> list[str]:
    return sorted(p.name for p in (site.root / "data").glob(pattern))


def cli(site: Site, *args, clock=None):
    env = {"PATH": "/usr/bin:/bin", "TZ": "JST-9"}
    if clock:
        env["CHATHOOKS_TEST_CLOCK"] = clock
    proc = subprocess.run([str(BIN_DIR / "chathooks"), *args], cwd=site.root, capture_output=True, timeout=30, env=env)
    record_evidence("cli-stdout", proc.stdout)
    record_evidence("cli-stderr", proc.stderr)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def form(chat_id="21252"):
    body = json.loads(json.dumps(SAMPLES["form"]))
    body["chat_id"] = chat_id
    return body


def check_outcome_line(line, *, record, run, actions):
    """`actions`: [(index, type, outcome, why or None)]."""
    keys = ["at", "request_id", "source", "event"] + (["webhook"] if "webhook" in record else []) \
        + ["received_at", "run", "actions"]
    assert list(line) == keys, line
    assert RFC3339.match(line["at"]), line["at"]
    assert line["request_id"] == record["request_id"]
    assert (line["source"], line["event"], line["received_at"]) == (record["source"], record["event"], record["received_at"])
    assert line["run"] == run
    assert [(a["index"], a["type"], a["outcome"]) for a in line["actions"]] == [a[:3] for a in actions], line["actions"]
    for got, (_, _, _, why) in zip(line["actions"], actions):
        if why is None:
            assert list(got) == ["index", "type", "outcome", "ms"], got
        else:
            assert list(got) == ["index", "type", "outcome", "why", "ms"], got
            assert why(got["why"]) if callable(why) else got["why"] == why, got["why"]
        assert isinstance(got["ms"], (int, float)) and got["ms"] >= 0


# === 1. Outcomes ==================================================================================

MIXED = {
    "form": APPEND + ', { type: "mail", to: "ops@example.jp", from: "hooks@example.jp", sendmail: "/nonexistent/sendmail" }'
                     ', { type: "command", argv: ["/bin/false"] }',
    "chat-start": "",
}


@pytest.fixture
def mixed(tmp_path):
    return Site(tmp_path / "site", config_text=config(events=MIXED))


def test_one_outcome_line_with_done_deferred_and_failed(mixed):
    r = mixed.run("chatdealer-form", form())
    assert r.status == 500 and r.json["error"] == "action_failed", r.body
    rid = r.json["id"]
    [record] = mixed.journal()
    assert record["request_id"] == rid
    [line] = lines_of(mixed.root / "data" / "outcomes.jsonl")
    command_why = f"command false exited with status 1; re-run it with `chathooks replay {rid}`"
    check_outcome_line(line, record=record, run="request", actions=[
        (0, "append", "done", None),
        (1, "mail", "deferred", lambda why: why.startswith("mail could not be sent yet (/nonexistent/sendmail could not be started")
                                            and why.endswith("it is spooled and `chathooks retry` will send it")),
        (2, "command", "failed", command_why),
    ])
    assert command_why in r.json["message"], "the outcome's why is the message the response gave"
    assert datetime.fromisoformat(line["at"]) >= datetime.fromisoformat(record["received_at"])
    assert (mixed.root / "data" / "spool" / f"{rid}-1.mail").exists()
    # Nothing else went to the record files.
    assert data_files(mixed, "*.jsonl") == ["journal.jsonl", "outcomes.jsonl"]


def test_no_outcome_line_for_a_request_without_actions(mixed):
    assert_ok(mixed.run("chatdealer-chat-start", SAMPLES["chat-start"]))
    assert len(mixed.journal()) == 1
    assert not (mixed.root / "data" / "outcomes.jsonl").exists()
    r = mixed.run("chatdealer-form", form())
    assert r.status == 500
    assert_ok(mixed.run("chatdealer-chat-start", SAMPLES["chat-start"]))
    assert [l["event"] for l in lines_of(mixed.root / "data" / "outcomes.jsonl")] == ["form"]


def test_replay_adds_a_replay_line(mixed):
    rid = mixed.run("chatdealer-form", form()).json["id"]
    [record] = mixed.journal()
    status, out, err = cli(mixed, "replay", "--config", str(mixed.config_path), rid)
    assert status == 1, out + err  # an action failed again
    status, out, err = cli(mixed, "replay", "--config", str(mixed.config_path), "--only", "command", rid)
    assert status == 1, out + err
    status, out, err = cli(mixed, "replay", "--config", str(mixed.config_path), "--only", "append", rid)
    assert status == 0, out + err
    request, full, command, append = lines_of(mixed.root / "data" / "outcomes.jsonl")
    assert request["run"] == "request"
    check_outcome_line(full, record=record, run="replay", actions=[
        (0, "append", "done", None), (1, "mail", "deferred", lambda w: "spooled" in w),
        (2, "command", "failed", f"command false exited with status 1; re-run it with `chathooks replay {rid}`")])
    # --only keeps each action's place in the configured list.
    check_outcome_line(command, record=record, run="replay", actions=[(2, "command", "failed", lambda w: "exited with status 1" in w)])
    check_outcome_line(append, record=record, run="replay", actions=[(0, "append", "done", None)])
    assert len(mixed.journal()) == 1, "a replay never journals again"
    assert len((mixed.root / "data" / "chats" / "21252.jsonl").read_text().splitlines()) == 3


RETRY_EVENTS = {
    "form": '{ type: "mail", to: "ops@example.jp", from: "hooks@example.jp", sendmail: "bin/sendmail" }',
}


@pytest.fixture
def relay(tmp_path):
    """A site whose sendmail fails (exit 75) while `sendmail.down` exists."""
    site = Site(tmp_path / "site", config_text=config(events=RETRY_EVENTS))
    (site.root / "bin").mkdir()
    script = site.root / "bin" / "sendmail"
    script.write_text(f"""#!/bin/sh
if [ -e '{site.root}/sendmail.down' ]; then cat >/dev/null; echo 'relay down' >&2; exit 75; fi
cat >> '{site.root}/sent.eml'
""")
    script.chmod(0o755)
    (site.root / "sendmail.down").write_text("")
    return site


def test_retry_adds_failed_then_done_lines(relay):
    r = relay.run("chatdealer-form", form())
    assert r.status == 202, r.body
    rid = r.json["id"]
    [record] = relay.journal()
    spooled = relay.root / "data" / "spool" / f"{rid}-0.mail"
    assert spooled.exists()
    outcomes = relay.root / "data" / "outcomes.jsonl"
    [request] = lines_of(outcomes)
    check_outcome_line(request, record=record, run="request",
                       actions=[(0, "mail", "deferred", lambda w: "sendmail exited with status 75" in w)])

    # Still down: a failed retry, with why.
    status, out, err = cli(relay, "retry", "--config", str(relay.config_path))
    assert status == 1 and "still waiting" in out, out + err
    assert spooled.exists()
    failed = lines_of(outcomes)[1]
    check_outcome_line(failed, record=record, run="retry", actions=[(0, "mail", "failed", "sendmail exited with status 75")])

    # Back up: sent, done.
    (relay.root / "sendmail.down").unlink()
    status, out, err = cli(relay, "retry", "--config", str(relay.config_path))
    assert status == 0 and f"sent {spooled}" in out, out + err
    assert not spooled.exists()
    assert rid in (relay.root / "sent.eml").read_text()
    lines = lines_of(outcomes)
    assert len(lines) == 3
    check_outcome_line(lines[2], record=record, run="retry", actions=[(0, "mail", "done", None)])

    # Nothing waiting: no line.
    status, out, err = cli(relay, "retry", "--config", str(relay.config_path))
    assert status == 0 and "nothing waiting" in out
    assert len(lines_of(outcomes)) == 3


def test_retry_of_a_mail_whose_event_left_the_journal_has_the_request_id_alone(relay):
    rid = relay.run("chatdealer-form", form()).json["id"]
    relay.journal_path.rename(relay.root / "journal-archived.jsonl")
    status, out, err = cli(relay, "retry", "--config", str(relay.config_path))
    assert status == 1, out + err
    line = lines_of(relay.root / "data" / "outcomes.jsonl")[-1]
    assert list(line) == ["at", "request_id", "run", "actions"], line
    assert line["request_id"] == rid and line["run"] == "retry"
    assert [(a["index"], a["outcome"]) for a in line["actions"]] == [(0, "failed")]


# === 2. Rejections ================================================================================

REJECT_EVENTS = {"chat-start": "", "form": ""}  # no scenario: 503


@pytest.fixture
def refusing(tmp_path):
    return Site(tmp_path / "site", config_text=config(events=REJECT_EVENTS))


def marked(size=None):
    """A form body holding the marker; padded with spaces to `size` bytes."""
    text = json.dumps({**form(), "note": BODY_MARKER}, ensure_ascii=False)
    return text if size is None else text + " " * (size - len(text.encode()))


# name: (handler, body, kwargs for Site.run, status, code, route, body_bytes: "len" | None | int)
REFUSALS = {
    "401-wrong-token": ("chatdealer-form", marked(), {"token": TOKEN_MARKER}, 401, "unauthorized", "chatdealer/form", "len"),
    "401-no-token": ("chatdealer-form", marked(), {"token": None}, 401, "unauthorized", "chatdealer/form", "len"),
    "400-bad-json": ("chatdealer-form", '{"note": "%s", oops}' % BODY_MARKER, {}, 400, "invalid_json", "chatdealer/form", "len"),
    "400-bad-field": ("chatdealer-form", json.dumps({"chat_id": BODY_MARKER + "\u0000"}), {}, 400, None, "chatdealer/form", "len"),
    "405-get": ("chatdealer-form", b"", {"method": "GET", "length": None, "extra": {"QUERY_STRING": "q=" + QUERY_MARKER}},
                405, "method_not_allowed", "chatdealer/form", None),
    "411-no-length": ("chatdealer-form", marked(), {"drop": ["CONTENT_LENGTH"]}, 411, "length_required", "chatdealer/form", None),
    "413-too-large": ("chatdealer-form", marked(5000), {}, 413, "body_too_large", "chatdealer/form", 5000),
    "415-multipart": ("chatdealer-form", marked(), {"content_type": "multipart/form-data; boundary=" + BODY_MARKER},
                      415, "unsupported_media_type", "chatdealer/form", "len"),
    "415-gzip": ("chatdealer-form", marked(), {"extra": {"HTTP_CONTENT_ENCODING": "gzip"}},
                 415, "unsupported_media_type", "chatdealer/form", "len"),
    "503-not-configured": ("chatdealer-scenario", json.dumps({**SAMPLES["scenario"], "note": BODY_MARKER}), {},
                           503, "not_configured", "chatdealer/scenario", "len"),
    "404-no-receiver": ("chathooks", marked(), {"extra": {
        "GATEWAY_INTERFACE": "CGI/1.1", "PATH_INFO": "/nope/x", "SCRIPT_NAME": "/chathooks.cgi",
        "REQUEST_URI": f"/chathooks.cgi/nope/x?key={QUERY_MARKER}", "QUERY_STRING": f"key={QUERY_MARKER}"}},
        404, "not_found", "/chathooks.cgi/nope/x", "len"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_each_refusal_adds_one_line_without_the_body_or_a_header_value(refusing, name):
    handler, body, kw, status, code, route, body_bytes = REFUSALS[name]
    rejections = refusing.root / "data" / "rejections.jsonl"
    # An accepted request is no refusal; a refusal before it is kept.
    assert_ok(refusing.run("chatdealer-chat-start", SAMPLES["chat-start"]))
    assert not rejections.exists()
    first = refusing.run("chatdealer-form", marked(), token=TOKEN_MARKER + "-0")
    assert first.status == 401
    assert len(lines_of(rejections)) == 1

    r = refusing.run(handler, body, **kw)
    assert r.status == status, (r.status, r.body, r.stderr)
    lines = lines_of(rejections)
    assert len(lines) == 2, lines
    line = lines[1]
    assert list(line) == ["at", "route", "status", "error", "message", "remote_addr", "body_bytes"], line
    assert RFC3339.match(line["at"]) and datetime.fromisoformat(line["at"]).utcoffset().total_seconds() == 9 * 3600
    assert line["route"] == route
    assert line["status"] == status
    answer = r.json
    assert line["error"] == answer["error"] and (code is None or line["error"] == code)
    assert line["message"] == answer["message"], "the message is the one the response gave"
    assert line["remote_addr"] == "203.0.113.7"
    encoded = body.encode() if isinstance(body, str) else body
    assert line["body_bytes"] == (len(encoded) if body_bytes == "len" else body_bytes)
    # Never the body, a token, a query string.
    text = rejections.read_text(encoding="utf-8")
    for secret in (BODY_MARKER, TOKEN_MARKER, TOKEN1, QUERY_MARKER, "らくす太郎"):
        assert secret not in text, f"{secret!r} reached the rejections file"
    assert len(refusing.journal()) == 1, "a refusal reached the journal"


def test_a_refusal_whose_config_cannot_be_loaded_writes_nothing(refusing):
    refusing.config_path.write_text("{ journal: { path: 'data/journal.jsonl' }, chatdealer: [ broken", encoding="utf-8")
    r = refusing.run("chatdealer-form", marked())
    assert r.status == 503 and r.json["error"] == "invalid_config", r.body
    assert [p for p in refusing.root.rglob("*rejections*")] == []


def test_body_bytes_is_null_for_a_content_length_that_is_not_a_number(refusing):
    r = refusing.run("chatdealer-form", marked(), length="12" + BODY_MARKER)
    assert r.status == 400 and r.json["error"] == "invalid_length"
    [line] = lines_of(refusing.root / "data" / "rejections.jsonl")
    assert line["body_bytes"] is None and line["status"] == 400
    assert BODY_MARKER not in (refusing.root / "data" / "rejections.jsonl").read_text()


def test_a_refusal_with_rotation_goes_to_its_month(tmp_path):
    site = Site(tmp_path / "site", config_text=config(rotate="monthly", events=REJECT_EVENTS))
    for clock in (NOV, DEC, DEC):
        assert site.run("chatdealer-form", marked(), token=TOKEN_MARKER, extra={"CHATHOOKS_TEST_CLOCK": clock}).status == 401
    assert data_files(site, "rejections*") == ["rejections-2026-11.jsonl", "rejections-2026-12.jsonl"]
    [nov] = lines_of(site.root / "data" / "rejections-2026-11.jsonl")
    assert nov["at"] == "2026-11-30T23:59:59.900+09:00"
    assert [l["at"] for l in lines_of(site.root / "data" / "rejections-2026-12.jsonl")] == ["2026-12-01T00:00:00.100+09:00"] * 2


def test_a_spalo_refusal_is_recorded_without_the_key_or_the_hash(site):
    from cgi_site import CLIENT_SECRET, WEBHOOK_KEY
    from test_handlers import spalo_body
    wrong_key = "ABCDEF" + WEBHOOK_KEY[6:]
    wrong_hash = "$2a$10$" + "Q" * 53
    for body in (spalo_body(webhookKey=wrong_key), spalo_body(secret_hash=wrong_hash)):
        assert site.run("spalo-dataset", body).status == 401
    lines = lines_of(site.root / "data" / "rejections.jsonl")
    assert [(l["route"], l["status"], l["error"], l["message"]) for l in lines] == [
        ("spalo/dataset", 401, "unauthorized", "webhookKey does not match"),
        ("spalo/dataset", 401, "unauthorized", "secretHash does not match the client secret")]
    text = (site.root / "data" / "rejections.jsonl").read_text()
    for secret in (wrong_key, WEBHOOK_KEY, wrong_hash, CLIENT_SECRET, "鈴木一郎"):
        assert secret not in text


# === 3. Flood =====================================================================================

def fcgi_request(params: dict, body: bytes) -> bytes:
    """One whole request, as a web server sends it (Tests/integration/fastcgi_wire.py's records)."""
    pairs = b"".join(name_value(k.encode(), v.encode()) for k, v in params.items())
    return (record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0)) + record(PARAMS, pairs) + record(PARAMS, b"")
            + (record(STDIN, body) if body else b"") + record(STDIN, b""))


def fcgi_exchange(sock_path, data: bytes) -> bytes:
    """The STDOUT of one request on its own connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(sock_path))
        s.sendall(data)
        out, _, ended = read_streams(s)
        assert ended, "the connection closed before END_REQUEST"
        return out


def start_fastcgi(tmp_path, processes=1):
    """`processes` multi-call `chathooks` processes sharing one listening Unix
    socket as their fd 0 (as spawn-fcgi -F starts them)."""
    site = Site(tmp_path / "site", config_text=config(events=REJECT_EVENTS))
    sock_path = Path(f"/tmp/chathooks-records-{os.getpid()}-{time.monotonic_ns()}.sock")  # short: sun_path
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(64)
    env = {"PATH": "/usr/bin:/bin", "TZ": "JST-9", "CHATHOOKS_CONFIG": str(site.config_path)}
    site.stderr_file = open(tmp_path / "fastcgi.stderr", "wb")
    site.procs = [subprocess.Popen([str(BIN_DIR / "chathooks")], stdin=listener.fileno(), stdout=subprocess.DEVNULL,
                                   stderr=site.stderr_file, env=env, cwd=site.root, start_new_session=True)
                  for _ in range(processes)]
    listener.close()
    site.sock = sock_path
    return site


def stop_fastcgi(site, tmp_path):
    for proc in site.procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in site.procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    site.stderr_file.close()
    record_evidence("fastcgi-stderr", (tmp_path / "fastcgi.stderr").read_bytes()[-65536:])
    site.sock.unlink(missing_ok=True)


@pytest.fixture
def fastcgi(tmp_path):
    site = start_fastcgi(tmp_path)
    try:
        yield site
    finally:
        stop_fastcgi(site, tmp_path)


@pytest.fixture
def fastcgi_pair(tmp_path):
    site = start_fastcgi(tmp_path, processes=2)
    try:
        yield site
    finally:
        stop_fastcgi(site, tmp_path)


def flood_params(site, body, i, who="flood"):
    return {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/hooks/chatdealer/form",
            "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
            "HTTP_X_CHATHOOKS_TOKEN": f"{TOKEN_MARKER}-{i}", "CHATHOOKS_CONFIG": str(site.config_path),
            # 64 bytes (what a line keeps of it), naming the request.
            "REMOTE_ADDR": f"{who}-{i:06d}-".ljust(64, "x")}


def kept_parts(site):
    """The rejections files, oldest first, after checking the bounds; their lines."""
    data = site.root / "data"
    names = data_files(site, "rejections*")
    assert names == ["rejections.1.jsonl", "rejections.2.jsonl", "rejections.3.jsonl", "rejections.jsonl"], names
    sizes = {n: (data / n).stat().st_size for n in names}
    assert sum(sizes.values()) <= (KEEP + 1) * CAP, sizes
    assert all(s <= CAP for s in sizes.values()), sizes
    text = "".join((data / n).read_text() for n in names)
    assert BODY_MARKER not in text and TOKEN_MARKER not in text
    return [(n, sizes[n], lines_of(data / n))
            for n in ["rejections.3.jsonl", "rejections.2.jsonl", "rejections.1.jsonl", "rejections.jsonl"]]


def test_a_flood_of_refusals_stays_within_the_cap(fastcgi):
    site = fastcgi
    body = marked().encode()
    first = fcgi_exchange(site.sock, fcgi_request(flood_params(site, body, 0), body))
    record_evidence("fastcgi-stdout", first)
    assert first.startswith(b"Status: 401"), first[:200]
    line_size = (site.root / "data" / "rejections.jsonl").stat().st_size
    # 10,000 lines of this size come to ~3 MB, less than the 4 MiB kept: send
    # enough that the oldest part has to be dropped (~6 MB of refusals).
    count = max(10_000, (6 * CAP) // line_size)
    assert count * line_size > (KEEP + 1) * CAP
    deadline = time.monotonic() + 240  # a bound, not a timing assertion
    last = first
    for i in range(1, count):
        last = fcgi_exchange(site.sock, fcgi_request(flood_params(site, body, i), body))
        assert last.startswith(b"Status: 401"), (i, last[:200])
        assert time.monotonic() < deadline, f"only {i} of {count} requests in 240 s"
    record_evidence("fastcgi-stdout", last)

    seen = []
    for name, size, lines in kept_parts(site):
        assert lines, name
        if name != "rejections.jsonl":
            assert size > CAP - 2 * line_size, f"{name} was moved aside before it was full: {size} bytes"
        for line in lines:
            assert (line["route"], line["status"], line["error"], line["body_bytes"]) == ("chatdealer/form", 401, "unauthorized", len(body))
            seen.append(int(line["remote_addr"].split("-")[1]))
    # Oldest part first: whole lines, in order, without a gap, ending with the last request.
    assert seen[-1] == count - 1, "the newest line is the last request's"
    assert seen == list(range(seen[0], count)), "lines lost or out of order within what is kept"
    assert seen[0] > 0, "the oldest refusals were dropped"
    assert not (site.root / "data" / "journal.jsonl").exists()


def test_a_flood_from_two_processes_at_once_stays_within_the_cap(fastcgi_pair):
    """Two writers moving the same capped file aside: still bounded, whole
    lines, nothing doubled, and each sender's kept refusals are its latest."""
    import threading
    site = fastcgi_pair
    body = marked().encode()
    senders, per_sender = 4, 5000  # ~6 MB of refusals in all
    errors = []

    def send(who):
        try:
            for i in range(per_sender):
                out = fcgi_exchange(site.sock, fcgi_request(flood_params(site, body, i, who=f"s{who}"), body))
                assert out.startswith(b"Status: 401"), (who, i, out[:200])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "the flood did not finish in 300 s"
    assert not errors, errors[0]
    by_sender = {f"s{k}": [] for k in range(senders)}
    for name, _, lines in kept_parts(site):
        for line in lines:
            who, i, _ = line["remote_addr"].split("-")
            by_sender[who].append(int(i))
    for who, seen in by_sender.items():
        assert seen and seen[-1] == per_sender - 1, (who, seen[-3:])
        assert seen == list(range(seen[0], per_sender)), f"{who}: lines lost, doubled or out of order"
    assert sum(len(v) for v in by_sender.values()) < senders * per_sender, "the oldest refusals were dropped"


# === 4. Rotation ==================================================================================

def chat_message(chat_id):
    body = json.loads(json.dumps(SAMPLES["chat-message"]))
    body["chat_id"] = chat_id
    return body


def assert_split(site, stream, expected: dict, key):
    """`expected`: file name -> the set of `key`s its lines hold, exactly."""
    assert data_files(site, f"{stream}*") == sorted(expected), data_files(site, f"{stream}*")
    for name, wanted in expected.items():
        lines = lines_of(site.root / "data" / name)
        got = [key(l) for l in lines]
        assert len(got) == len(set(got)) and set(got) == wanted, (name, sorted(got), sorted(wanted))


@pytest.mark.parametrize("rotate,clocks,periods", [
    ("monthly", (NOV, DEC), ("2026-11", "2026-12")),
    ("daily", ("2026-12-01T23:59:59.95+09:00", "2026-12-02T00:00:00.05+09:00"), ("2026-12-01", "2026-12-02")),
])
def test_concurrent_writers_across_a_period_boundary(tmp_path, rotate, clocks, periods):
    site = Site(tmp_path / "site", config_text=config(rotate=rotate, events={"chat-message": APPEND}))
    n = 40
    requests = [("chatdealer-chat-message", chat_message(str(5000 + i)), clocks[i % 2]) for i in range(n)]
    # And refusals among them, 5 a period.
    refused = 10
    procs = [site.start("chatdealer-chat-message", chat_message(str(5000 + i)), extra={"CHATHOOKS_TEST_CLOCK": c})
             for i, (_, _, c) in enumerate(requests)]
    procs += [site.start("chatdealer-chat-message", marked(), token=f"{TOKEN_MARKER}-{k}",
                         extra={"CHATHOOKS_TEST_CLOCK": clocks[k % 2], "REMOTE_ADDR": f"198.51.100.{k}"})
              for k in range(refused)]
    results = [Site.finish(p) for p in procs]
    assert [r.status for r in results[n:]] == [401] * refused
    ids = {}
    for i, r in enumerate(results[:n]):
        ids[str(5000 + i)] = assert_ok(r)
    assert_split(site, "rejections", {f"rejections-{p}.jsonl": {f"198.51.100.{k}" for k in range(refused) if k % 2 == j}
                                      for j, p in enumerate(periods)}, key=lambda l: l["remote_addr"])
    half = [{str(5000 + i) for i in range(n) if i % 2 == k} for k in (0, 1)]
    assert_split(site, "journal", {f"journal-{p}.jsonl": h for p, h in zip(periods, half)}, key=lambda l: l["payload"]["chat_id"])
    for p, h, clock in zip(periods, half, clocks):
        for record in lines_of(site.root / "data" / f"journal-{p}.jsonl"):
            assert datetime.fromisoformat(record["received_at"]) == datetime.fromisoformat(clock)
            assert record["request_id"] == ids[record["payload"]["chat_id"]]
    assert_split(site, "outcomes", {f"outcomes-{p}.jsonl": {ids[c] for c in h} for p, h in zip(periods, half)},
                 key=lambda l: l["request_id"])
    for p in periods:
        for line in lines_of(site.root / "data" / f"outcomes-{p}.jsonl"):
            assert line["run"] == "request" and [a["outcome"] for a in line["actions"]] == ["done"]
            assert line["at"].startswith(p)

    # The product's reader reads across the files: every id from both periods.
    later = "2027-01-15T12:00:00+09:00"
    status, out, err = cli(site, "replay", "--config", str(site.config_path), "--only", "append", *ids.values(), clock=later)
    assert status == 0, out + err
    assert f"replayed {n} events (0 with a failed or deferred action)" in out, out
    for chat_id, rid in ids.items():
        assert f"{rid} chatdealer/chat-message: 1 action done" in out
        assert len((site.root / "data" / "chats" / f"{chat_id}.jsonl").read_text().splitlines()) == 2
    replays = lines_of(site.root / "data" / ("outcomes-2027-01.jsonl" if rotate == "monthly" else "outcomes-2027-01-15.jsonl"))
    assert {l["request_id"] for l in replays} == set(ids.values()) and {l["run"] for l in replays} == {"replay"}
    assert not (site.root / "data" / "journal.jsonl").exists() and not (site.root / "data" / "outcomes.jsonl").exists()


def test_the_period_is_the_local_date_under_tz_whatever_offset_the_clock_has(tmp_path):
    site = Site(tmp_path / "site", config_text=config(rotate="monthly", events={"chat-message": APPEND}))
    # 15:00:00.1 UTC on 30 November is 00:00:00.1 on 1 December in Tokyo (TZ=JST-9).
    assert_ok(site.run("chatdealer-chat-message", chat_message("1"), extra={"CHATHOOKS_TEST_CLOCK": "2026-11-30T15:00:00.1Z"}))
    assert_ok(site.run("chatdealer-chat-message", chat_message("2"), extra={"CHATHOOKS_TEST_CLOCK": "2026-11-30T14:59:59.9Z"}))
    assert data_files(site, "journal*") == ["journal-2026-11.jsonl", "journal-2026-12.jsonl"]
    [dec] = lines_of(site.root / "data" / "journal-2026-12.jsonl")
    assert dec["payload"]["chat_id"] == "1" and dec["received_at"] == "2026-12-01T00:00:00.100+09:00"
    [nov] = lines_of(site.root / "data" / "journal-2026-11.jsonl")
    assert nov["payload"]["chat_id"] == "2" and nov["received_at"] == "2026-11-30T23:59:59.900+09:00"


def test_the_test_clock_is_ignored_without_rotation(tmp_path):
    site = Site(tmp_path / "site", config_text=config(events={"chat-message": APPEND}))
    before = datetime.now().astimezone()
    assert_ok(site.run("chatdealer-chat-message", chat_message("1"), extra={"CHATHOOKS_TEST_CLOCK": NOV}))
    [record] = site.journal()
    assert abs((datetime.fromisoformat(record["received_at"]) - before).total_seconds()) < 60
    assert data_files(site, "*.jsonl") == ["journal.jsonl", "outcomes.jsonl"]


def test_the_cli_ignores_the_test_clock_without_rotation(tmp_path):
    """A replay's line is stamped now, not by a stray CHATHOOKS_TEST_CLOCK,
    when the journal does not rotate (as the receivers do)."""
    site = Site(tmp_path / "site", config_text=config(events={"chat-message": APPEND}))
    reply = site.run("chatdealer-chat-message", chat_message("1"))
    assert_ok(reply)
    rc, out, err = cli(site, "replay", "--config", str(site.config_path), reply.json["id"], clock=NOV)
    assert rc == 0, out + err
    replayed = [line for line in lines_of(site.root / "data" / "outcomes.jsonl") if line["run"] == "replay"]
    assert len(replayed) == 1 and not replayed[0]["at"].startswith("2026-11-30T23:59:59")
    assert replayed[0]["at"] >= replayed[0]["received_at"]


# === 5. A plain journal from before rotation ======================================================

def test_a_plain_journal_is_still_read_after_switching_to_monthly(tmp_path):
    site = Site(tmp_path / "site", config_text=config(events={"chat-message": APPEND}))
    old = [assert_ok(site.run("chatdealer-chat-message", chat_message(c))) for c in ("71", "72")]
    assert data_files(site, "journal*") == ["journal.jsonl"]
    site.write_config(config(rotate="monthly", events={"chat-message": APPEND}))
    new = [assert_ok(site.run("chatdealer-chat-message", chat_message(c), extra={"CHATHOOKS_TEST_CLOCK": k}))
           for c, k in (("73", NOV), ("74", DEC))]
    assert data_files(site, "journal*") == ["journal-2026-11.jsonl", "journal-2026-12.jsonl", "journal.jsonl"]
    assert [r["request_id"] for r in site.journal()] == old, "the plain journal is left as it was"
    missing = "01KBBGNOTTHERE0000000000000"
    status, out, err = cli(site, "replay", "--config", str(site.config_path), "--only", "append", new[1], old[0], missing, *new[:1], old[1])
    assert status == 1, out + err  # one id is not in any file
    lines = out.splitlines()
    # Read in file order: the plain journal first, then the months.
    assert [l.split()[0] for l in lines[:4]] == [old[0], old[1], new[0], new[1]], out
    assert all(l.endswith(": 1 action done") for l in lines[:4]), out
    data = site.root / "data"
    assert lines[4] == f"{missing}: not in {data}/journal.jsonl, {data}/journal-2026-11.jsonl, {data}/journal-2026-12.jsonl", out
    assert lines[5] == "replayed 4 events (0 with a failed or deferred action); 1 not found"
    for c in ("71", "72", "73", "74"):
        assert len((data / "chats" / f"{c}.jsonl").read_text().splitlines()) == 2


def test_retry_finds_the_event_in_an_older_month_and_writes_to_its_own(tmp_path):
    site = Site(tmp_path / "site", config_text=config(
        rotate="monthly", events={"form": '{ type: "mail", to: "ops@example.jp", from: "hooks@example.jp", sendmail: "bin/sendmail" }'}))
    (site.root / "bin").mkdir()
    (site.root / "bin" / "sendmail").write_text("#!/bin/sh\nexit 75\n")
    (site.root / "bin" / "sendmail").chmod(0o755)
    r = site.run("chatdealer-form", form(), extra={"CHATHOOKS_TEST_CLOCK": NOV})
    assert r.status == 202, r.body
    [record] = lines_of(site.root / "data" / "journal-2026-11.jsonl")
    (site.root / "bin" / "sendmail").write_text("#!/bin/sh\ncat >/dev/null\nexit 0\n")
    status, out, err = cli(site, "retry", "--config", str(site.config_path), clock="2027-01-02T03:04:05+09:00")
    assert status == 0, out + err
    assert data_files(site, "outcomes*") == ["outcomes-2026-11.jsonl", "outcomes-2027-01.jsonl"]
    [line] = lines_of(site.root / "data" / "outcomes-2027-01.jsonl")
    check_outcome_line(line, record=record, run="retry", actions=[(0, "mail", "done", None)])
    assert line["at"] == "2027-01-02T03:04:05.000+09:00"


def test_a_refusal_never_quotes_what_the_sender_chose(tmp_path):
    """Header values, body values and keys the sender chose stay out of the
    message (and so out of the rejections file): a long parameter key, a
    malformed date, a number with an exponent, a Content-Encoding and a
    multipart media type, each carrying a marker."""
    site = Site(tmp_path / "site", config_text=config(events={"scenario": "", "chat-start": ""}))
    marker = "CHOSENMARKER"
    scenario = json.loads(json.dumps(SAMPLES["scenario"]))
    scenario["parameter"] = [{"KEY-" + marker + "x" * 2000: {"o": 1}}]  # long, within the 4 KiB body limit
    cases = [
        ("chatdealer-scenario", scenario, {}),
        ("chatdealer-chat-start", dict(SAMPLES["chat-start"], event_date=marker), {}),
        ("chatdealer-chat-start", json.dumps(SAMPLES["chat-start"]).replace('"chat_id": "21252"', '"chat_id": 1e2'), {}),
        ("chatdealer-chat-start", SAMPLES["chat-start"], {"extra": {"HTTP_CONTENT_ENCODING": "gzip-" + marker}}),
        ("chatdealer-chat-start", SAMPLES["chat-start"], {"content_type": "multipart/" + marker + "a" * 300}),
    ]
    for handler, body, kw in cases:
        r = site.run(handler, body, **kw)
        assert r.status in (400, 415), (handler, r.status, r.body)
        assert marker not in r.json["message"] and len(r.json["message"]) < 300, r.json["message"]
    text = "".join(p.read_text() for p in (site.root / "data").glob("rejections*.jsonl"))
    assert text.count("\n") == len(cases) and marker not in text and "xxxxxxxxxx" not in text
