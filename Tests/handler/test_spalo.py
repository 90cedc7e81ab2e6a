"""SPALO for real (issue #10), through the built executables as CGI: several
webhooks of the three kinds in one config, each matched by its own key and
secret; dataset and search answered from a static list, a CSV file (UTF-8 with
or without a BOM, Shift_JIS), an SQLite database and a command; the send
webhook journaled with its actions run; `chathooks check` on each source.
Hashes come from Python's bcrypt; databases from Python's sqlite3."""
import json
import re
import shutil
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import pytest

from cgi_site import BIN_DIR, Site

# One key and client secret per webhook (plain constants named as secrets:
# Tests/zz_secrets harvests them by name and looks for them in every output).
CSV_WEBHOOK_KEY = "C5C5C5C5A1A1A1A1B2B2B2B2C3C3C3C3D4D4D4D4"
CSV_CLIENT_SECRET = "csv-client-secret-9f8e7d"
SJIS_WEBHOOK_KEY = "515151515A1A1A1AB2B2B2B2C3C3C3C3D4D4D4D4"
SJIS_CLIENT_SECRET = "sjis-client-secret-1a2b3c"
SQLITE_WEBHOOK_KEY = "D8D8D8D8A1A1A1A1B2B2B2B2C3C3C3C3D4D4D4D4"
SQLITE_CLIENT_SECRET = "sqlite-client-secret-4d5e6f"
CMD_WEBHOOK_KEY = "CDCDCDCDA1A1A1A1B2B2B2B2C3C3C3C3D4D4D4D4"
CMD_CLIENT_SECRET = "command-client-secret-7a8b9c"
SEARCH_WEBHOOK_KEY = "5EA5EA5EA1A1A1A1B2B2B2B2C3C3C3C3D4D4D4D4"
SEARCH_CLIENT_SECRET = "search-client-secret-0d1e2f"
CMD_SEARCH_WEBHOOK_KEY = "5EA5C0DEA1A1A1A1B2B2B2B2C3C3C3C3D4D4D4D4"
CMD_SEARCH_CLIENT_SECRET = "command-search-client-secret-3a"
SEND_WEBHOOK_KEY = "5E9D5E9DA1A1A1A1B2B2B2B2C3C3C3C3D4D4D4D4"
SEND_CLIENT_SECRET = "send-client-secret-6b7c8d"

EMPTY = "該当するお客様が見つかりません。"
FAILED = "ただいま検索できません。"
HEADER = ["email", "名前", "住所", "電話番号"]
ROWS = [
    ["suzuki@spalo.co.jp", "鈴木一郎", "東京都中央区銀座1-2-3", "03-1234-5678"],
    ["tanaka@example.jp", "田中花子", "大阪府大阪市北区梅田1-1", "06-0000-1111"],
    ["o'brien@example.jp", "オブライエン", "札幌市, \"中央区\"\n北1条", "011-222-3333"],
]

CONFIG = """{
  journal: { path: "data/journal.jsonl", fsync: false },
  spalo: {
    errorText: "%(failed)s",
    webhooks: [
      { name: "csv", kind: "dataset", webhookKey: "%(csv_key)s", clientSecret: "%(csv_secret)s",
        key: "info.email", source: { type: "csv", path: "customers.csv", match: "email" },
        emptyMessage: "%(empty)s" },
      { name: "sjis", kind: "dataset", webhookKey: "%(sjis_key)s", clientSecret: "%(sjis_secret)s",
        key: "data[title=メールアドレス]",
        source: { type: "csv", path: "customers-sjis.csv", encoding: "shift_jis", match: "email" },
        columns: { "住所": "ご住所", "名前": "お名前" }, emptyMessage: "%(empty)s" },
      { name: "db", kind: "dataset", webhookKey: "%(sqlite_key)s", clientSecret: "%(sqlite_secret)s",
        key: "info.email",
        source: { type: "sqlite", path: "customers.db",
                  query: "SELECT 名前, 住所, 点数, 比率, 備考 FROM customers WHERE email = :key AND :cell = :cell",
                  params: { cell: "data[id=C5]" } },
        emptyMessage: "%(empty)s" },
      { name: "script", kind: "dataset", webhookKey: "%(cmd_key)s", clientSecret: "%(cmd_secret)s",
        key: "info.userId", source: { type: "command", argv: ["lookup.sh"], timeout: 2 },
        emptyMessage: "%(empty)s" },
      { name: "stores", kind: "search", webhookKey: "%(search_key)s", clientSecret: "%(search_secret)s",
        key: "data[title=都道府県]", source: { type: "csv", path: "stores.csv", match: "都道府県" },
        candidate: "店舗", emptyMessage: "%(empty)s" },
      { name: "script-search", kind: "search", webhookKey: "%(cmd_search_key)s", clientSecret: "%(cmd_search_secret)s",
        source: { type: "command", argv: ["lookup.sh"], timeout: 2 }, emptyMessage: "%(empty)s" },
      { name: "answers", kind: "send", webhookKey: "%(send_key)s", clientSecret: "%(send_secret)s",
        actions: [ { type: "append", path: "data/answers/{botId}.jsonl" } ] },
    ],
  },
}
"""

# The command source: what it prints depends on the key it is given.
LOOKUP_SCRIPT = r"""#!/bin/sh
cat > "$PWD/stdin.json"
env > "$PWD/env.txt"
case "$CHATHOOKS_EVENT:$CHATHOOKS_KEY" in
  search:) printf '["銀座店","新宿店"]\n' ;;
  search:*) printf '["%s: 銀座店","新宿店"]\n' "$CHATHOOKS_KEY" ;;
  dataset:123) printf '{"名前":"鈴木一郎","点数":42,"備考":null}\n' ;;
  dataset:456) printf '{"type":"dataset","actions":[{"key":"住所","value":"大阪府"}]}\n' ;;
  dataset:empty) printf '{}\n' ;;
  dataset:garbage) printf 'this is not JSON\n' ;;
  dataset:fail) echo "lookup failed on purpose" >&2; exit 3 ;;
  dataset:hang) sleep 60 & echo $! > "$PWD/child.pid"; echo $$ > "$PWD/script.pid"; wait ;;
  dataset:holdout) sleep 60 & echo $! > "$PWD/child.pid"; printf '{"名前":"早い答え"}\n' ;;
  *) printf '{}\n' ;;
esac
"""

KEYS = {"csv": (CSV_WEBHOOK_KEY, CSV_CLIENT_SECRET), "sjis": (SJIS_WEBHOOK_KEY, SJIS_CLIENT_SECRET),
        "db": (SQLITE_WEBHOOK_KEY, SQLITE_CLIENT_SECRET), "script": (CMD_WEBHOOK_KEY, CMD_CLIENT_SECRET),
        "stores": (SEARCH_WEBHOOK_KEY, SEARCH_CLIENT_SECRET),
        "script-search": (CMD_SEARCH_WEBHOOK_KEY, CMD_SEARCH_CLIENT_SECRET),
        "answers": (SEND_WEBHOOK_KEY, SEND_CLIENT_SECRET)}


def csv_text(header, rows, newline="\r\n"):
    def cell(v):
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v
    return "".join(",".join(cell(v) for v in row) + newline for row in [header] + rows)


@pytest.fixture
def spalo(tmp_path):
    site = Site(tmp_path / "site", config_text=CONFIG % {
        "failed": FAILED, "empty": EMPTY,
        "csv_key": CSV_WEBHOOK_KEY, "csv_secret": CSV_CLIENT_SECRET,
        "sjis_key": SJIS_WEBHOOK_KEY, "sjis_secret": SJIS_CLIENT_SECRET,
        "sqlite_key": SQLITE_WEBHOOK_KEY, "sqlite_secret": SQLITE_CLIENT_SECRET,
        "cmd_key": CMD_WEBHOOK_KEY, "cmd_secret": CMD_CLIENT_SECRET,
        "search_key": SEARCH_WEBHOOK_KEY, "search_secret": SEARCH_CLIENT_SECRET,
        "cmd_search_key": CMD_SEARCH_WEBHOOK_KEY, "cmd_search_secret": CMD_SEARCH_CLIENT_SECRET,
        "send_key": SEND_WEBHOOK_KEY, "send_secret": SEND_CLIENT_SECRET})
    root = site.root
    (root / "customers.csv").write_bytes(csv_text(HEADER, ROWS).encode("utf-8"))
    (root / "customers-sjis.csv").write_bytes(csv_text(HEADER, ROWS).encode("cp932"))
    (root / "stores.csv").write_bytes(csv_text(["都道府県", "店舗"], [["東京都", "銀座店"], ["大阪府", "梅田店"],
                                                                 ["東京都", "新宿店"]]).encode("utf-8"))
    db = sqlite3.connect(root / "customers.db")
    db.execute("CREATE TABLE customers (email TEXT, 名前 TEXT, 住所 TEXT, 点数 INTEGER, 比率 REAL, 備考 TEXT)")
    db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
                   [("suzuki@spalo.co.jp", "鈴木一郎", "東京都中央区銀座1-2-3", 42, 0.5, None),
                    ("o'brien@example.jp", "オブライエン", "札幌市", 7, 100.0, "引用符 ' と \" を含む")])
    db.commit()
    db.close()
    script = root / "lookup.sh"
    script.write_text(LOOKUP_SCRIPT)
    script.chmod(0o755)
    return site


def body(webhook, event="DATASET", email="suzuki@spalo.co.jp", user_id=123, **changes):
    key, secret = KEYS[webhook]
    b = {"webhookKey": key, "secretHash": bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode(),
         "event": event, "eventTime": "2023-01-18 09:40:30", "item_name": "住所", "botName": "来店予約",
         "info": {"userId": user_id, "userName": "鈴木一郎", "email": email},
         "data": [{"id": "C5", "type": "email", "value": email, "title": "メールアドレス"},
                  {"id": "C6", "type": "button", "value": "東京都", "title": "都道府県"}]}
    b.update(changes)
    return b


def actions(result):
    assert result.status == 200, (result.status, result.body, result.stderr)
    reply = result.json
    assert reply["type"] == "dataset"
    return {a["key"]: a["value"] for a in reply["actions"]}


def assert_text(result, status, text, error=None):
    assert (result.status, result.json) == (status, {"type": "text", "text": text}), result.stderr
    if error:
        assert result.headers["x-chathooks-error"] == error


# --- CSV ----------------------------------------------------------------------------------------

def test_csv_match_answers_the_other_columns_and_journals_with_the_webhook_name(spalo):
    r = spalo.run("spalo-dataset", body("csv"))
    assert actions(r) == {"名前": "鈴木一郎", "住所": "東京都中央区銀座1-2-3", "電話番号": "03-1234-5678"}
    [record] = spalo.journal()
    assert (record["source"], record["event"], record["webhook"]) == ("spalo", "dataset", "csv")
    assert "webhookKey" not in record["payload"] and "secretHash" not in record["payload"]
    assert record["request_id"] == r.headers["x-chathooks-request-id"]


def test_csv_quoted_comma_quote_and_newline_survive(spalo):
    r = spalo.run("spalo-dataset", body("csv", email="o'brien@example.jp"))
    assert actions(r)["住所"] == "札幌市, \"中央区\"\n北1条"


def test_csv_no_match_is_400_with_the_message_and_still_journaled(spalo):
    r = spalo.run("spalo-dataset", body("csv", email="nobody@example.jp"))
    assert_text(r, 400, EMPTY)
    assert len(spalo.journal()) == 1


@pytest.mark.parametrize("variant", ["bom-crlf", "no-bom-lf", "bom-no-final-newline"])
def test_csv_utf8_with_or_without_bom_and_either_line_end(spalo, variant):
    text = csv_text(HEADER, ROWS, newline="\n" if "lf" in variant else "\r\n")
    if variant == "bom-no-final-newline":
        text = text.rstrip("\r\n")
    data = text.encode("utf-8")
    if variant.startswith("bom"):
        data = b"\xef\xbb\xbf" + data
    (spalo.root / "customers.csv").write_bytes(data)
    assert actions(spalo.run("spalo-dataset", body("csv", email="tanaka@example.jp")))["名前"] == "田中花子"
    assert actions(spalo.run("spalo-dataset", body("csv", email="o'brien@example.jp")))["電話番号"] == "011-222-3333"


def test_csv_shift_jis_with_a_data_item_key_and_renamed_columns(spalo):
    # Keyed by the data[] item titled メールアドレス; only the two named columns, renamed, in the config's order.
    r = spalo.run("spalo-dataset", body("sjis"))
    assert r.json["actions"] == [{"key": "ご住所", "value": "東京都中央区銀座1-2-3"}, {"key": "お名前", "value": "鈴木一郎"}]
    # Characters only CP932 has (NEC and IBM extensions): ① ～ 髙.
    (spalo.root / "customers-sjis.csv").write_bytes(
        csv_text(HEADER, [["suzuki@spalo.co.jp", "髙橋①", "東京～大阪", "x"]]).encode("cp932"))
    assert actions(spalo.run("spalo-dataset", body("sjis"))) == {"ご住所": "東京～大阪", "お名前": "髙橋①"}


def test_csv_in_the_wrong_encoding_is_a_lookup_failure_not_a_500(spalo):
    (spalo.root / "customers-sjis.csv").write_bytes(csv_text(HEADER, ROWS).encode("utf-8"))
    (spalo.root / "customers-sjis.csv").write_bytes(b"email,\x82\n" + b"suzuki@spalo.co.jp,\xff\xff\n")
    r = spalo.run("spalo-dataset", body("sjis"))
    assert_text(r, 400, FAILED, "lookup_failed")
    assert "lookup failed" in r.stderr and "customers-sjis.csv" in r.stderr


def test_more_than_200_columns_and_values_over_50_characters_are_cut(spalo):
    header = ["email"] + [f"列{i:03d}" for i in range(250)]
    long_value = "東京都中央区銀座" * 5 + "😀" * 10  # 40 + 10 emoji (2 UTF-16 units each)
    row = ["suzuki@spalo.co.jp"] + [long_value] * 250
    (spalo.root / "customers.csv").write_bytes(csv_text(header, [row]).encode("utf-8"))
    r = spalo.run("spalo-dataset", body("csv"))
    got = r.json["actions"]
    assert len(got) == 200 and got[0]["key"] == "列000" and got[-1]["key"] == "列199"
    # 40 characters, then 5 emoji fill the 50 UTF-16 units; never half an emoji.
    assert got[0]["value"] == "東京都中央区銀座" * 5 + "😀" * 5
    assert "SPALO takes 200" in r.stderr


def test_a_csv_that_changes_between_two_requests_is_read_again(spalo):
    path = spalo.root / "customers.csv"
    rows = [["suzuki@spalo.co.jp", "鈴木一郎", "東京都", "03-1234-5678"],
            ["suzuki@spalo.co.JP", "田中花子", "大阪府", "06-0000-1111"]]
    path.write_bytes(csv_text(HEADER, rows).encode("utf-8"))
    old = time.time() - 3600
    os.utime(path, (old, old))
    # The index is written only for a file whose ctime is 2 s old (the racy
    # rule: a change within one timestamp tick must not go unseen), and utime
    # itself sets the ctime: wait until it is old enough, then read twice.
    while time.time() - path.stat().st_ctime < 2.2:
        time.sleep(0.3)
    assert actions(spalo.run("spalo-dataset", body("csv")))["名前"] == "鈴木一郎"
    indexes = list((spalo.root / "data" / "cache").glob("csv-*.index"))
    assert len(indexes) == 1, "the first lookup of an old file writes its index"
    assert actions(spalo.run("spalo-dataset", body("csv")))["名前"] == "鈴木一郎"
    # The keys trade places: the same size, the mtime set back, and the
    # matching row now where the index does not point. Only the ctime and
    # the content say the file changed.
    rows[0][0], rows[1][0] = rows[1][0], rows[0][0]
    path.write_bytes(csv_text(HEADER, rows).encode("utf-8"))
    os.utime(path, (old, old))
    assert actions(spalo.run("spalo-dataset", body("csv")))["名前"] == "田中花子"


def test_an_unreadable_or_missing_csv_is_a_lookup_failure(spalo):
    (spalo.root / "customers.csv").unlink()
    r = spalo.run("spalo-dataset", body("csv"))
    assert_text(r, 400, FAILED, "lookup_failed")
    assert "customers.csv" in r.stderr
    assert len(spalo.journal()) == 1  # accepted and journaled: the lookup is what failed


# --- SQLite -------------------------------------------------------------------------------------

def test_sqlite_match_renders_numbers_plainly_and_omits_null(spalo):
    r = spalo.run("spalo-dataset", body("db"))
    assert r.json["actions"] == [{"key": "名前", "value": "鈴木一郎"}, {"key": "住所", "value": "東京都中央区銀座1-2-3"},
                                 {"key": "点数", "value": "42"}, {"key": "比率", "value": "0.5"}]


@pytest.mark.parametrize("email, found", [
    ("o'brien@example.jp", True),
    ("'; DROP TABLE customers; --", False),
    ("x' OR '1'='1", False),
    ('"; DELETE FROM customers; --', False),
])
def test_sqlite_parameters_are_bound_never_interpolated(spalo, email, found):
    r = spalo.run("spalo-dataset", body("db", email=email))
    if found:
        assert actions(r)["備考"] == "引用符 ' と \" を含む"
    else:
        assert_text(r, 400, EMPTY)
    db = sqlite3.connect(spalo.root / "customers.db")
    assert db.execute("SELECT count(*) FROM customers").fetchone() == (2,)
    db.close()


def test_a_locked_database_is_a_lookup_failure_in_bounded_time(spalo):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"db = sqlite3.connect({str(spalo.root / 'customers.db')!r}, isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        r = spalo.run("spalo-dataset", body("db"))
        assert_text(r, 400, FAILED, "lookup_failed")
        assert "locked" in r.stderr
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert actions(spalo.run("spalo-dataset", body("db")))["名前"] == "鈴木一郎"


def test_a_missing_database_is_a_lookup_failure_and_is_not_created(spalo):
    (spalo.root / "customers.db").unlink()
    assert_text(spalo.run("spalo-dataset", body("db")), 400, FAILED, "lookup_failed")
    assert not (spalo.root / "customers.db").exists()


# --- command ------------------------------------------------------------------------------------

def test_command_gets_the_request_without_secrets_and_a_clean_environment(spalo):
    r = spalo.run("spalo-dataset", body("script"), extra={"HOME_SECRET_TOKEN": "never-passed-on"})
    assert actions(r) == {"名前": "鈴木一郎", "点数": "42"}  # null is left out
    stdin = json.loads((spalo.root / "stdin.json").read_text())
    assert stdin["info"]["userId"] == 123 and "webhookKey" not in stdin and "secretHash" not in stdin
    env = dict(line.split("=", 1) for line in (spalo.root / "env.txt").read_text().splitlines() if "=" in line)
    assert env["CHATHOOKS_KEY"] == "123" and env["CHATHOOKS_WEBHOOK"] == "script" and env["CHATHOOKS_EVENT"] == "dataset"
    assert env["CHATHOOKS_REQUEST_ID"] == r.headers["x-chathooks-request-id"]
    assert "HOME_SECRET_TOKEN" not in env and "CHATHOOKS_CONFIG" not in env


def test_command_may_print_spalos_own_reply(spalo):
    assert actions(spalo.run("spalo-dataset", body("script", user_id=456))) == {"住所": "大阪府"}


@pytest.mark.parametrize("key, stderr_part", [("garbage", "did not print JSON"), ("fail", "exited with status 3")])
def test_command_that_fails_or_prints_garbage_is_a_lookup_failure(spalo, key, stderr_part):
    r = spalo.run("spalo-dataset", body("script", user_id=key))
    assert_text(r, 400, FAILED, "lookup_failed")
    assert stderr_part in r.stderr


def test_command_that_prints_nothing_found_is_the_empty_message(spalo):
    assert_text(spalo.run("spalo-dataset", body("script", user_id="empty")), 400, EMPTY)


def test_command_that_hangs_is_killed_in_time_with_its_children(spalo):
    started = time.monotonic()
    r = spalo.run("spalo-dataset", body("script", user_id="hang"))
    assert time.monotonic() - started < 4.5  # within SPALO's 5 s (timeout: 2 in the config)
    assert_text(r, 400, FAILED, "lookup_failed")
    assert "did not finish within 2 s" in r.stderr
    for name in ("script.pid", "child.pid"):
        pid = int((spalo.root / name).read_text())
        deadline = time.monotonic() + 10  # SIGKILL lands when the process next runs
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), name


def alive(pid):
    """True while the process runs (a zombie waiting for its parent does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


# --- search, send, and several webhooks ---------------------------------------------------------

def test_search_answers_candidates_from_a_csv_column(spalo):
    r = spalo.run("spalo-search", body("stores", event="search"))
    assert r.status == 200 and r.json == ["銀座店", "新宿店"], r.body
    r = spalo.run("spalo-search", body("stores", event="search", data=[{"id": "C6", "type": "button", "value": "沖縄県", "title": "都道府県"}]))
    assert_text(r, 400, EMPTY)
    assert [x["event"] for x in spalo.journal()] == ["search", "search"]


def test_search_from_a_command_prints_an_array(spalo):
    r = spalo.run("spalo-search", body("script-search", event="search"))
    assert r.status == 200 and r.json == ["銀座店", "新宿店"]


def test_send_is_journaled_and_its_actions_run(spalo):
    samples = Path(__file__).resolve().parents[2] / "examples" / "samples"
    sample = json.loads((samples / "send.json").read_text(encoding="utf-8"))
    key, secret = KEYS["answers"]
    sample.update(webhookKey=key, secretHash=bcrypt.hashpw(secret.encode(), bcrypt.gensalt(4)).decode())
    r = spalo.run("spalo-send", sample)
    assert r.status == 200 and r.json["ok"] is True, (r.body, r.stderr)
    [record] = spalo.journal()
    assert (record["event"], record["webhook"]) == ("send", "answers") and record["payload"]["data"] == sample["data"]
    [line] = (spalo.root / "data" / "answers" / "42.jsonl").read_text().splitlines()
    assert json.loads(line)["request_id"] == r.json["id"]


@pytest.mark.parametrize("route, webhook", [("spalo-dataset", "stores"), ("spalo-dataset", "answers"),
                                            ("spalo-search", "csv"), ("spalo-send", "csv"), ("spalo-send", "stores")])
def test_each_key_reaches_only_its_own_kind_of_webhook(spalo, route, webhook):
    event = {"spalo-dataset": "DATASET", "spalo-search": "search", "spalo-send": "SEND"}[route]
    r = spalo.run(route, body(webhook, event=event))
    assert_text(r, 401, "ただいま検索できません。", "unauthorized")
    assert "webhookKey does not match" in r.stderr and f"it is the key of webhook {webhook}" in r.stderr
    assert spalo.journal() == []


def test_a_secret_of_another_webhook_is_refused(spalo):
    b = body("csv")
    b["secretHash"] = bcrypt.hashpw(SJIS_CLIENT_SECRET.encode(), bcrypt.gensalt(4)).decode()
    r = spalo.run("spalo-dataset", b)
    assert_text(r, 401, FAILED, "unauthorized")
    assert "secretHash does not match" in r.stderr and spalo.journal() == []


@pytest.mark.parametrize("route, reply", [("spalo-dataset", {"type": "dataset", "actions": []}),
                                          ("spalo-search", []), ("spalo-send", {})])
def test_the_url_check_is_200_on_every_spalo_route_and_runs_nothing(spalo, route, reply):
    for b in ({}, {"event": "x"}, b""):
        r = spalo.run(route, b)
        assert (r.status, r.json) == (200, reply), r.body
    assert spalo.journal() == [] and not (spalo.root / "data" / "answers").exists()


def test_the_multi_call_executable_routes_every_spalo_path(spalo, tmp_path):
    r = spalo.run("chathooks", body("stores", event="search"), extra={"PATH_INFO": "/spalo/search", "GATEWAY_INTERFACE": "CGI/1.1"})
    assert r.json == ["銀座店", "新宿店"]


def test_replay_runs_the_send_webhooks_actions_again(spalo):
    samples = Path(__file__).resolve().parents[2] / "examples" / "samples"
    sample = json.loads((samples / "send.json").read_text(encoding="utf-8"))
    key, secret = KEYS["answers"]
    sample.update(webhookKey=key, secretHash=bcrypt.hashpw(secret.encode(), bcrypt.gensalt(4)).decode())
    r = spalo.run("spalo-send", sample)
    out = subprocess.run([str(BIN_DIR / "chathooks"), "replay", "--config", str(spalo.config_path), r.json["id"]],
                         capture_output=True, text=True, timeout=10, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{r.json['id']} spalo/send: 1 action done" in out.stdout
    assert len((spalo.root / "data" / "answers" / "42.jsonl").read_text().splitlines()) == 2


# --- chathooks check ----------------------------------------------------------------------------

def check(site):
    return subprocess.run([str(BIN_DIR / "chathooks"), "check", str(site.config_path)], capture_output=True,
                          text=True, timeout=10, env={"PATH": "/usr/bin:/bin"})


def test_check_describes_every_webhook_and_its_source(spalo):
    r = check(spalo)
    assert r.returncode == 0, r.stderr
    assert "spalo/search (spalo-search): POST with webhookKey" in r.stdout and "  stores: journal" in r.stdout
    assert "source: csv: " in r.stdout and "4 rows, 4 columns: email, 名前, 住所, 電話番号" not in r.stdout
    assert "3 rows, 4 columns: email, 名前, 住所, 電話番号" in r.stdout
    assert "the query binds :key, :cell" in r.stdout


@pytest.mark.parametrize("breakage, problem", [
    (lambda root: (root / "customers.csv").unlink(), "customers.csv"),
    (lambda root: (root / "customers-sjis.csv").write_bytes(b"mail,x\n"), "no column"),
    (lambda root: (root / "customers-sjis.csv").write_bytes(b"email,\x82\n"), "not Shift_JIS"),
    (lambda root: (root / "stores.csv").write_bytes("都道府県,店名\n".encode()), 'no column "店舗"'),
    (lambda root: (root / "lookup.sh").chmod(0o644), "lookup.sh is not an executable file"),
    (lambda root: (root / "customers.db").write_bytes(b"not a database, just text" * 100), "SQLite"),
])
def test_check_finds_what_would_fail_the_first_lookup(spalo, breakage, problem):
    breakage(spalo.root)
    r = check(spalo)
    assert r.returncode == 1 and problem in r.stderr, r.stderr


def test_check_finds_query_parameters_the_config_does_not_bind(spalo):
    text = spalo.config_path.read_text().replace("params: { cell: \"data[id=C5]\" }", "params: { other: \"item_name\" }")
    spalo.write_config(text)
    r = check(spalo)
    assert r.returncode == 1 and "the config binds other, which the query does not use" in r.stderr, r.stderr


def test_the_old_single_webhook_block_still_works(tmp_path):
    # Site's default config is the single-webhook form (spalo.webhookKey, spalo.dataset.static).
    site = Site(tmp_path / "old")
    from cgi_site import CLIENT_SECRET, WEBHOOK_KEY
    b = {"webhookKey": WEBHOOK_KEY, "secretHash": bcrypt.hashpw(CLIENT_SECRET.encode(), bcrypt.gensalt(4)).decode(),
         "event": "DATASET"}
    r = site.run("spalo-dataset", b)
    assert r.status == 200 and r.json["actions"][0]["key"] == "住所"
    assert site.journal()[0]["webhook"] == "dataset"
    # No search webhook in that config: the search route is not configured,
    # even for a URL check (registering it in SPALO shows that it fails). As
    # every SPALO 5xx of ours, it goes out as a 400 (SPALO shows a 5xx as a
    # broken bot), the status meant in a header.
    r = site.run("spalo-search", {})
    assert (r.status, r.headers["x-chathooks-status"], r.headers["x-chathooks-error"]) == (400, "503", "not_configured")


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "lookup"


@pytest.mark.parametrize("source", [
    '{ type: "csv", path: "customers.csv", match: "email" }',
    '{ type: "sqlite", path: "customers.db", query: "SELECT 名前, 住所 FROM customers WHERE email = :key" }',
    '{ type: "command", argv: ["lookup-customer"] }',
])
def test_the_readmes_worked_examples_answer_the_same(tmp_path, source):
    """examples/lookup: the README's customers, as CSV, as SQLite (made from
    customers.sql as the README says) and as a ten-line script."""
    root = tmp_path / "example"
    root.mkdir()
    for name in ("customers.csv", "lookup-customer"):
        (root / name).write_bytes((EXAMPLES / name).read_bytes())
    (root / "lookup-customer").chmod(0o755)
    sqlite3.connect(root / "customers.db").executescript((EXAMPLES / "customers.sql").read_text(encoding="utf-8"))
    site = Site(root, config_text=f"""{{
      journal: {{ path: "data/journal.jsonl", fsync: false }},
      spalo: {{ webhooks: [ {{ name: "address", kind: "dataset", webhookKey: "{CSV_WEBHOOK_KEY}",
        clientSecret: "{CSV_CLIENT_SECRET}", key: "info.email", source: {source}, columns: ["名前", "住所"] }} ] }},
    }}""")
    r = site.run("spalo-dataset", body("csv", email="tanaka@example.jp"))
    assert r.json["actions"] == [{"key": "名前", "value": "田中花子"}, {"key": "住所", "value": "大阪府大阪市北区梅田1-1 梅田ビル 3F"}]
    assert_text(site.run("spalo-dataset", body("csv", email="nobody@example.jp")), 400, "設定できるデータがありません。")
    assert check(site).returncode == 0, check(site).stderr


def test_check_refuses_customer_data_the_web_server_may_hand_out(tmp_path):
    """A CSV or SQLite file of customers inside public_html with no .htaccess
    denying it is a leak: `check` says so, until the bundle's data/.htaccess
    is beside it."""
    private = tmp_path / "private"
    data = tmp_path / "public_html" / "data"
    private.mkdir()
    data.mkdir(parents=True)
    (data / "customers.csv").write_bytes((EXAMPLES / "customers.csv").read_bytes())
    sqlite3.connect(data / "customers.db").executescript((EXAMPLES / "customers.sql").read_text(encoding="utf-8"))
    site = Site(private, config_text=f"""{{
      journal: {{ path: "journal.jsonl" }},
      spalo: {{ webhooks: [
        {{ name: "a", kind: "dataset", webhookKey: "{CSV_WEBHOOK_KEY}", clientSecret: "{CSV_CLIENT_SECRET}", key: "info.email",
           source: {{ type: "csv", path: "../public_html/data/customers.csv", match: "email" }} }},
        {{ name: "b", kind: "dataset", webhookKey: "{SQLITE_WEBHOOK_KEY}", clientSecret: "{SQLITE_CLIENT_SECRET}", key: "info.email",
           source: {{ type: "sqlite", path: "../public_html/data/customers.db", query: "SELECT 名前 FROM customers WHERE email = :key" }} }},
      ] }},
    }}""")
    r = check(site)
    assert r.returncode == 1, r.stdout
    assert r.stderr.count("may be downloadable") == 2 and "customers.csv" in r.stderr and "customers.db" in r.stderr
    shutil.copy(Path(__file__).resolve().parents[2] / "dist-files" / "data.htaccess", data / ".htaccess")
    r = check(site)
    assert r.returncode == 0, r.stderr


# --- what the review found ------------------------------------------------------------------------

def test_a_search_command_gets_its_key(tmp_path, spalo):
    text = spalo.config_path.read_text().replace(
        'name: "script-search", kind: "search",', 'name: "script-search", kind: "search", key: "data[title=都道府県]",')
    spalo.write_config(text)
    r = spalo.run("spalo-search", body("script-search", event="search"))
    assert r.status == 200 and r.json == ["東京都: 銀座店", "新宿店"], (r.body, r.stderr)


@pytest.mark.parametrize("source", ["csv", "db", "script"])
def test_an_empty_or_missing_key_finds_nothing_not_the_rows_whose_column_is_empty(spalo, source):
    (spalo.root / "customers.csv").write_bytes(csv_text(HEADER, ROWS + [["", "誰か", "秘密の住所", "000"]]).encode())
    db = sqlite3.connect(spalo.root / "customers.db")
    db.execute("INSERT INTO customers VALUES ('', '誰か', '秘密の住所', 0, 0, NULL)")
    db.commit()
    db.close()
    b = body(source, email="")
    b["data"][0]["value"] = ""
    if source == "script":
        del b["info"]["userId"]  # an id may not be empty: the command's key is missing instead
    r = spalo.run("spalo-dataset", b)
    assert_text(r, 400, EMPTY)
    assert "no usable" in r.stderr
    assert not (spalo.root / "env.txt").exists(), "the command ran without a key"


def test_the_last_answer_of_a_repeated_item_is_the_key(spalo):
    """A person who went back and answered again: the later answer counts."""
    b = body("sjis")
    b["data"] = [{"id": "C5", "type": "email", "value": "nobody@example.jp", "title": "メールアドレス"},
                 {"id": "C5", "type": "email", "value": "suzuki@spalo.co.jp", "title": "メールアドレス"}]
    assert actions(spalo.run("spalo-dataset", b))["お名前"] == "鈴木一郎"


def test_a_journal_that_cannot_be_written_is_spalos_400_not_a_500(spalo):
    shutil.rmtree(spalo.root / "data", ignore_errors=True)
    (spalo.root / "data").write_text("a file where the journal's folder should be")
    r = spalo.run("spalo-dataset", body("csv"))
    assert_text(r, 400, FAILED, "journal_failed")
    assert r.headers["x-chathooks-status"] == "500"
    assert "journal_failed" in r.stderr


def test_a_command_that_leaves_a_child_holding_its_output_answers_at_once_and_the_child_is_killed(spalo):
    # Waiting for the child would reach the command's 2 s timeout: a failed lookup, not this answer.
    r = spalo.run("spalo-dataset", body("script", user_id="holdout"))
    assert actions(r) == {"名前": "早い答え"}
    # Killed (SIGKILL is delivered when the child next runs: on a busy machine, a moment later).
    child = int((spalo.root / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_actions_get_only_what_is_left_of_spalos_wait(tmp_path):
    """A dataset webhook whose command action would take 30 s (its own
    timeout 10): the answer still comes within SPALO's 5 s, the action is cut
    at what is left of 4 s, and the headers and the outcomes say so."""
    root = tmp_path / "slow"
    root.mkdir()
    (root / "slow.sh").write_text("#!/bin/sh\nsleep 30\n")
    (root / "slow.sh").chmod(0o755)
    site = Site(root, config_text=f"""{{
      journal: {{ path: "data/journal.jsonl", fsync: false }},
      spalo: {{ webhooks: [ {{ name: "csv", kind: "dataset", webhookKey: "{CSV_WEBHOOK_KEY}", clientSecret: "{CSV_CLIENT_SECRET}",
        source: {{ type: "static", values: [ {{ key: "住所", value: "東京都" }} ] }},
        actions: [ {{ type: "command", argv: ["slow.sh"], timeout: 10 }} ] }} ] }},
    }}""")
    started = time.monotonic()
    r = site.run("spalo-dataset", body("csv"))
    elapsed = time.monotonic() - started
    assert actions(r) == {"住所": "東京都"}
    # Far from the action's own 10 s (the cap is what the header below shows).
    assert elapsed < 8, elapsed
    # Cut at the whole seconds left of 4 (bcrypt and the lookup took some).
    assert re.search(r"did not finish within [1-4] s", r.headers["x-chathooks-action-failed"])


def test_a_file_that_is_not_the_csv_meant_is_never_quoted_with_its_secrets(spalo):
    # The CSV path points at what is really a secret file: its one "column" is the secret.
    (spalo.root / "customers.csv").write_text(CMD_CLIENT_SECRET + "\n")
    r = spalo.run("spalo-dataset", body("csv"))
    assert_text(r, 400, FAILED, "lookup_failed")
    assert CMD_CLIENT_SECRET not in r.stderr and "[secret]" in r.stderr, r.stderr
    c = check(spalo)
    assert c.returncode == 1 and CMD_CLIENT_SECRET not in c.stderr and "[secret]" in c.stderr, c.stderr


def test_a_damaged_index_is_no_index_never_a_crash(spalo):
    path = spalo.root / "customers.csv"
    old = time.time() - 3600
    os.utime(path, (old, old))
    while time.time() - path.stat().st_ctime < 2.2:
        time.sleep(0.3)
    assert actions(spalo.run("spalo-dataset", body("csv")))["名前"] == "鈴木一郎"
    [index] = (spalo.root / "data" / "cache").glob("csv-*.index")
    good = index.read_bytes()
    for word, value in [(9, 1 << 63), (9, 1 << 60), (10, 1 << 63), (11, 1 << 63)]:
        damaged = bytearray(good)
        damaged[word * 8:word * 8 + 8] = value.to_bytes(8, "little")
        index.write_bytes(bytes(damaged))
        r = spalo.run("spalo-dataset", body("csv"))
        assert r.returncode == 0 and actions(r)["名前"] == "鈴木一郎", (word, r.status, r.stderr)


def test_a_send_whose_action_fails_is_still_200_and_says_what_failed(spalo):
    """SPALO counts a 5xx as a failed send; the event is journaled, and what
    failed is in the answer and its headers, for `chathooks replay`."""
    (spalo.root / "data" / "answers").mkdir(parents=True)
    (spalo.root / "data" / "answers" / "42.jsonl").mkdir()  # the append's file is a folder: it fails
    samples = Path(__file__).resolve().parents[2] / "examples" / "samples"
    sample = json.loads((samples / "send.json").read_text(encoding="utf-8"))
    key, secret = KEYS["answers"]
    sample.update(webhookKey=key, secretHash=bcrypt.hashpw(secret.encode(), bcrypt.gensalt(4)).decode())
    r = spalo.run("spalo-send", sample)
    assert r.status == 200 and r.json["ok"] is True and len(r.json["failed"]) == 1, (r.body, r.stderr)
    assert "x-chathooks-action-failed" in r.headers
    assert spalo.journal()[0]["request_id"] == r.json["id"]
