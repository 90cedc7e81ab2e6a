"""`chathooks sink postgres` (issue #14) against a real PostgreSQL that the
test starts (Tests/sink/pgserver.py): two nodes, each event exactly once from
the right node; SIGKILLs at any point; PostgreSQL away and back; rotation; a
torn last line and a record PostgreSQL cannot store, kept aside. The events
are real: posted to the built receivers as CGI."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "handler"))

from cgi_site import BIN_DIR, TOKEN1, Site  # noqa: E402
from pgserver import PostgresServer  # noqa: E402
from stack import record_evidence  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "samples"
BOUND = 60  # seconds any wait here may take


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


@pytest.fixture
def db(pg):
    """A fresh schema for each test: the tables dropped before it."""
    pg.psql("DROP TABLE IF EXISTS events, outcomes, chathooks_schema CASCADE")
    pg.psql("DROP VIEW IF EXISTS chat_end_messages, form_items, spalo_items")
    return pg


def node(tmp_path, pg, name, rotate=None, batch=None):
    root = tmp_path / name
    root.mkdir()
    (root / "secrets").mkdir()
    (root / "secrets" / "postgres").write_text(pg.conninfo("unix") + "\n")
    journal = 'journal: { path: "data/journal.jsonl", fsync: false%s },' % (f', rotate: "{rotate}"' if rotate else "")
    site = Site(root, config_text=f"""{{
  {journal}
  chatdealer: {{
    auth: {{ header: "X-Chathooks-Token", tokens: ["{TOKEN1}"] }},
    events: {{ "chat-start": {{}}, "chat-message": {{}}, "form": {{}},
               "chat-end": {{ actions: [ {{ type: "append", path: "data/chats/{{chat_id}}.jsonl" }} ] }} }},
  }},
  sink: {{ postgres: {{ conninfo: {{ file: "secrets/postgres" }}, node: "{name}"{f", batch: {batch}" if batch else ""} }} }},
}}""")
    return site


def sample(event, **changes):
    body = json.loads((SAMPLES / f"{event}.json").read_text(encoding="utf-8"))
    body.update(changes)
    return body


def post_many(site, n, event="chat-start", clock=None):
    """n requests at once (concurrent CGI writers); their request ids."""
    extra = {"CHATHOOKS_TEST_CLOCK": clock} if clock else None
    procs = [site.start(f"chatdealer-{event}", sample(event, chat_id=str(10000 + i)), extra=extra) for i in range(n)]
    ids = []
    for p in procs:
        r = Site.finish(p)
        assert r.status == 200, (r.status, r.body, r.stderr)
        ids.append(r.json["id"])
    return ids


def sink(site, *args, check=True):
    r = subprocess.run([str(BIN_DIR / "chathooks"), "sink", "postgres", "--config", str(site.config_path), *args],
                       capture_output=True, timeout=BOUND, env={"PATH": "/usr/bin:/bin", "TZ": "JST-9"})
    record_evidence("cli-stdout", r.stdout)
    record_evidence("cli-stderr", r.stderr)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def rows(pg, sql):
    out = pg.psql(sql)
    record_evidence("cli-stdout", out.encode())
    return [line.split("|") for line in out.strip().splitlines() if line]


def test_init_creates_the_tables_and_views_once(db, tmp_path):
    site = node(tmp_path, db, "a")
    r = sink(site, "--init")
    assert "schema: version 0 → 1" in r.stderr.decode()
    r = sink(site, "--init")
    assert "version 1, nothing to do" in r.stderr.decode()
    names = {row[0] for row in rows(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"events", "outcomes", "chathooks_schema", "chat_end_messages", "form_items", "spalo_items"} <= names


def test_without_init_the_sink_says_what_to_do(db, tmp_path):
    site = node(tmp_path, db, "a")
    post_many(site, 1)
    r = sink(site, check=False)
    assert r.returncode == 1 and "run chathooks sink postgres --init" in r.stderr.decode()


def test_two_nodes_with_concurrent_writers_every_event_once_from_its_node(db, tmp_path):
    a, b = node(tmp_path, db, "node-a"), node(tmp_path, db, "node-b")
    sink(a, "--init")
    ids = {"node-a": post_many(a, 25), "node-b": post_many(b, 25)}
    for site in (a, b, a, b):  # twice each: the second pass sends nothing new
        sink(site)
    got = rows(db, "SELECT request_id, node FROM events ORDER BY request_id")
    assert len(got) == 50 and len({r[0] for r in got}) == 50
    for name, expected in ids.items():
        assert sorted(r[0] for r in got if r[1] == name) == sorted(expected)
    # The payload as journaled, queryable as jsonb; received_at a timestamptz.
    [[chat_id, page]] = rows(db, f"SELECT chat_id, payload->>'page_url' FROM events WHERE request_id = '{ids['node-a'][0]}'")
    assert chat_id.startswith("100") and page == "https://www.rakus.co.jp/"
    assert rows(db, "SELECT count(*) FROM events WHERE received_at > now() - interval '1 hour'") == [["50"]]


def test_views_give_a_row_per_message_and_per_item(db, tmp_path):
    site = node(tmp_path, db, "a")
    sink(site, "--init")
    end = site.run("chatdealer-chat-end", sample("chat-end")).json["id"]
    form = site.run("chatdealer-form", sample("form")).json["id"]
    sink(site)
    assert rows(db, f"SELECT position, post_user, msg FROM chat_end_messages WHERE request_id = '{end}' ORDER BY position") == [
        ["1", "自動応答（シナリオ型）", "ようこそ"], ["2", "らくす太郎", "こんにちは"]]
    assert [r[0] for r in rows(db, f"SELECT item_name FROM form_items WHERE request_id = '{form}' ORDER BY position")] == ["名前", "メールアドレス"]
    # The chat-end's append action: its outcome line forwarded too.
    assert rows(db, f"SELECT run, actions->0->>'outcome' FROM outcomes WHERE request_id = '{end}'") == [["request", "done"]]


def test_sigkill_at_any_point_then_exactly_once_without_a_gap(db, tmp_path):
    # Small batches (each a transaction, then the position's fsync and rename), so that
    # a kill lands in the middle of forwarding, between a commit and its saved position
    # as often as anywhere else.
    site = node(tmp_path, db, "a", batch=1)
    sink(site, "--init")
    ids = [i for _ in range(4) for i in post_many(site, 40)]
    rng = random.Random(14)
    counts = []
    for _ in range(25):
        p = subprocess.Popen([str(BIN_DIR / "chathooks-sink"), "sink", "postgres", "--config", str(site.config_path), "--follow"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
        time.sleep(rng.uniform(0.005, 0.06))
        p.kill()
        _, err = p.communicate(timeout=BOUND)
        record_evidence("cli-stderr", err)
        counts.append(int(rows(db, "SELECT count(*) FROM events")[0][0]))
    print("rows after each kill:", counts)
    sink(site)  # to the end
    got = [r[0] for r in rows(db, "SELECT request_id FROM events")]
    assert sorted(got) == sorted(ids), f"after kills at {counts} rows"
    # (Never more rows than events at any point: the conflict clause drops a re-sent batch.)
    assert max(counts) <= len(ids)


def test_postgres_away_then_back_the_receivers_answer_and_the_sink_catches_up(db, tmp_path):
    site = node(tmp_path, db, "a")
    sink(site, "--init")
    before = post_many(site, 5)
    db.stop()
    try:
        during = post_many(site, 10)  # 200s: the journal does not wait on PostgreSQL
        p = subprocess.Popen([str(BIN_DIR / "chathooks-sink"), "sink", "postgres", "--config", str(site.config_path), "--follow"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    finally:
        db.restart()
    try:
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline and rows(db, "SELECT count(*) FROM events") != [["15"]]:
            time.sleep(0.3)
        assert sorted(r[0] for r in rows(db, "SELECT request_id FROM events")) == sorted(before + during)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=BOUND)
        record_evidence("cli-stderr", err)
    assert p.returncode == 0 and "cannot connect to PostgreSQL" in err.decode() and "stopped (SIGTERM)" in err.decode()


def test_rotation_a_torn_line_and_a_record_postgres_refuses(db, tmp_path):
    site = node(tmp_path, db, "a", rotate="monthly")
    sink(site, "--init")
    nov = post_many(site, 3, clock="2026-11-30T23:59:59.900+09:00")
    dec = post_many(site, 3, clock="2026-12-01T00:00:00.100+09:00")
    # A message with a NUL in it: valid JSON, journaled, but PostgreSQL's jsonb cannot store it.
    r = site.run("chatdealer-chat-message", sample("chat-message", msg="a\u0000b"),
                 extra={"CHATHOOKS_TEST_CLOCK": "2026-12-01T00:00:01.000+09:00"})
    assert r.status == 200
    nul = r.json["id"]
    # A writer killed mid-line left a fragment at the end of December's file.
    december = site.root / "data" / "journal-2026-12.jsonl"
    with open(december, "ab") as f:
        f.write(b'{"received_at":"2026-12-01T00:00:02.000+09:00","source":"chatd')
    r = sink(site)
    assert "kept aside" in r.stderr.decode()
    assert sorted(x[0] for x in rows(db, "SELECT request_id FROM events")) == sorted(nov + dec)
    [aside] = [json.loads(line) for line in (site.root / "data" / "sink-postgres.rejected.jsonl").read_text().splitlines()]
    assert aside["file"] == "journal-2026-12.jsonl" and "NUL" in aside["why"] and nul in aside["line"]
    # The fragment is not sent while it has no newline; the next append ends it and
    # it becomes a line of its own, which is kept aside in its turn, and the new event goes.
    later = post_many(site, 1, clock="2026-12-01T00:00:03.000+09:00")
    sink(site)
    assert sorted(x[0] for x in rows(db, "SELECT request_id FROM events")) == sorted(nov + dec + later)
    kept = (site.root / "data" / "sink-postgres.rejected.jsonl").read_text().splitlines()
    assert len(kept) == 2 and "not JSON" in json.loads(kept[1])["why"]


def test_check_names_the_sink_and_refuses_a_broken_block(db, tmp_path):
    site = node(tmp_path, db, "web-1")
    r = subprocess.run([str(BIN_DIR / "chathooks"), "check", str(site.config_path)], capture_output=True, text=True,
                       timeout=BOUND, env={"PATH": "/usr/bin:/bin"})
    record_evidence("cli-stdout", r.stdout.encode())
    assert r.returncode == 0 and "sink: postgres as node web-1" in r.stdout, r.stderr
    site.write_config(site.config_path.read_text().replace('node: "web-1"', 'node: "web-1", batch: 0'))
    r = subprocess.run([str(BIN_DIR / "chathooks"), "check", str(site.config_path)], capture_output=True, text=True,
                       timeout=BOUND, env={"PATH": "/usr/bin:/bin"})
    record_evidence("cli-stderr", r.stderr.encode())
    assert r.returncode == 1 and "sink.postgres.batch: must be between 1 and 5000" in r.stderr, r.stderr
    # The receivers go on: the sink's block is not theirs.
    assert site.run("chatdealer-chat-start", sample("chat-start")).status == 200


@pytest.mark.parametrize("conninfo", [
    "host=127.0.0.1 port=1 dbname=x user=u password=my SINKPWMARKER",      # unparsable: libpq would quote it
    "postgresql://u:SINKPWMARKER@[127.0.0.1:1/x",                           # a broken URI, quoted whole by libpq
    "host=127.0.0.1 port=1 dbname=x user=u password=SINKPWMARKER",          # parsable: the connection refused
])
def test_the_sink_never_prints_its_password(db, tmp_path, conninfo):
    site = node(tmp_path, db, "a")
    (site.root / "secrets" / "postgres").write_text(conninfo + "\n")
    r = sink(site, check=False)
    assert r.returncode == 1 and b"SINKPWMARKER" not in r.stderr + r.stdout, r.stderr


def test_one_sink_a_node_at_a_time(db, tmp_path):
    site = node(tmp_path, db, "a")
    sink(site, "--init")
    p = subprocess.Popen([str(BIN_DIR / "chathooks-sink"), "sink", "postgres", "--config", str(site.config_path), "--follow"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + BOUND
        while not (site.root / "data" / "sink-postgres.state.json.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        r = sink(site, check=False)
        while r.returncode == 0 and time.monotonic() < deadline:  # the follower had not locked it yet
            time.sleep(0.1)
            r = sink(site, check=False)
        assert r.returncode == 1 and "another chathooks sink is forwarding this journal" in r.stderr.decode()
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=BOUND)
        record_evidence("cli-stderr", err)


def test_a_journal_replaced_under_its_name_is_read_again_from_its_start(db, tmp_path):
    site = node(tmp_path, db, "a")
    sink(site, "--init")
    first = post_many(site, 5)
    sink(site)
    # The journal moved away and a new one begun under the same name (a
    # hand-made rotation): the saved offset is past the new file's end.
    site.journal_path.rename(site.root / "data" / "old-journal.jsonl.bak")
    second = post_many(site, 2)
    r = sink(site)
    assert "read again from its start" in r.stderr.decode()
    assert sorted(x[0] for x in rows(db, "SELECT request_id FROM events")) == sorted(first + second)
