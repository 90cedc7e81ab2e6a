"""`chathooks export` and `chathooks events` (issue #12): the journal, as
Excel opens it on a double-click and as a terminal shows it, with what became
of each event's actions. Through the built executables; the CSV is read back
by Python's csv module in Excel's dialect."""
import csv
import io
import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from cgi_site import BIN_DIR, TOKEN1, Site
from stack import record_evidence

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "samples"

CONFIG = """{
  journal: { path: "data/journal.jsonl", fsync: false },
  chatdealer: {
    auth: { header: "X-Chathooks-Token", tokens: ["%(token)s"] },
    events: {
      "chat-start": {},
      "chat-end": { actions: [ { type: "append", path: "data/chats/{chat_id}.jsonl" } ] },
      "form": { actions: [
        { type: "append", path: "data/forms.jsonl" },
        { type: "mail", to: ["ops@example.jp"], from: "bot@example.jp", sendmail: "/nonexistent/sendmail", timeout: 2 },
      ] },
      "scenario": { actions: [ { type: "command", argv: ["fail.sh"], timeout: 2 } ] },
      "chat-message": {},
    },
  },
}
"""

ENV = {"PATH": "/usr/bin:/bin", "TZ": "JST-9"}


def sample(event, **changes):
    body = json.loads((SAMPLES / f"{event}.json").read_text(encoding="utf-8"))
    body.update(changes)
    return body


def cli(site, *args, **kw):
    r = subprocess.run([str(BIN_DIR / "chathooks"), *args, "--config", str(site.config_path)],
                       capture_output=True, timeout=20, env=ENV, **kw)
    record_evidence("cli-stdout", r.stdout)
    record_evidence("cli-stderr", r.stderr)
    return r


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path / "site", config_text=CONFIG % {"token": TOKEN1})
    (s.root / "fail.sh").write_text("#!/bin/sh\necho 'no such customer' >&2\nexit 3\n")
    (s.root / "fail.sh").chmod(0o755)
    return s


def post(site, event, body):
    r = site.run(f"chatdealer-{event}", body)
    assert r.status in (200, 202, 500), (r.status, r.body)
    return json.loads(r.body)["id"]


def read_csv(data):
    assert data.startswith(b"\xef\xbb\xbf"), "no BOM: Excel would read the file as Shift_JIS"
    text = data[3:].decode("utf-8")
    # Rows end in CRLF; line breaks inside a cell stay as they are (in quotes).
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text, newline=""), dialect="excel"))


def test_the_csv_opens_as_excel_reads_it_with_each_events_fields_and_outcome(site):
    tricky = 'カンマ, "引用符" と\n改行のある値'
    form = sample("form")
    form["item"] = form["item"] + [{"item_name": "ご意見", "item_value": tricky},
                                   {"item_name": "計算式", "item_value": "=HYPERLINK(\"http://evil.example/\",\"click\")"}]
    ids = {
        "chat-start": post(site, "chat-start", sample("chat-start")),
        "chat-end": post(site, "chat-end", sample("chat-end")),
        "form": post(site, "form", form),
        "scenario": post(site, "scenario", sample("scenario")),
    }
    r = cli(site, "export")
    assert r.returncode == 0, r.stderr
    rows = read_csv(r.stdout)
    assert [row["リクエストID"] for row in rows] == list(ids.values())
    by = {row["イベント"]: row for row in rows}
    assert list(rows[0])[:8] == ["受信日時", "送信元", "イベント", "Webhook", "リクエストID", "チャットID", "訪問者ID", "処理結果"]
    assert all(row["送信元"] == "chatdealer" and row["チャットID"] == "21252" for row in rows)
    # Local time (TZ=JST-9), as Excel shows a date and time.
    assert by["form"]["受信日時"][:4] == str(time.gmtime(time.time() + 9 * 3600).tm_year)
    assert len(by["form"]["受信日時"]) == 19 and by["form"]["受信日時"][10] == " "
    # A form's items, one column each, values intact (commas, quotes, newlines, Japanese).
    assert by["form"]["名前"] == "らくす太郎" and by["form"]["ご意見"] == tricky
    # What a visitor typed is never a formula when Excel opens the file.
    assert by["form"]["計算式"] == "'=HYPERLINK(\"http://evil.example/\",\"click\")"
    # A transcript in one cell, a line per message.
    assert by["chat-end"]["会話"].split("\n") == ["[2020/12/10 18:22:46] 自動応答（シナリオ型）: ようこそ",
                                                 "[2020/12/10 18:23:00] らくす太郎: こんにちは"]
    # The outcomes: done; a deferred mail (the append done); a failed command; no actions.
    assert by["chat-end"]["処理結果"] == "成功"
    assert by["form"]["処理結果"].startswith("保留: mail: ") and "chathooks retry" in by["form"]["処理結果"]
    assert by["scenario"]["処理結果"].startswith("失敗: command: ") and "status 3" in by["scenario"]["処理結果"]
    assert by["chat-start"]["処理結果"] == ""


def test_a_replay_changes_the_outcome_that_export_shows(site):
    rid = post(site, "scenario", sample("scenario"))
    assert read_csv(cli(site, "export").stdout)[0]["処理結果"].startswith("失敗: command")
    (site.root / "fail.sh").write_text("#!/bin/sh\nexit 0\n")
    r = cli(site, "replay", rid)
    assert r.returncode == 0, r.stdout
    assert read_csv(cli(site, "export").stdout)[0]["処理結果"] == "成功"


def test_filters_and_jsonl(site):
    post(site, "chat-start", sample("chat-start"))
    form_id = post(site, "form", sample("form"))
    rows = read_csv(cli(site, "export", "--event", "form").stdout)
    assert [row["リクエストID"] for row in rows] == [form_id]
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))
    assert len(read_csv(cli(site, "export", "--from", today, "--to", today).stdout)) == 2
    assert read_csv(cli(site, "export", "--to", "2020-01-01").stdout) == []
    assert read_csv(cli(site, "export", "--source", "spalo").stdout) == []
    # --jsonl: the records as the journal holds them.
    r = cli(site, "export", "--jsonl")
    assert r.stdout.decode().split("\n")[:-1] == site.journal_lines()
    out = site.root / "events.csv"
    r = cli(site, "export", "--output", str(out))
    assert r.returncode == 0 and "2 events written" in r.stderr.decode()
    assert len(read_csv(out.read_bytes())) == 2


@pytest.mark.parametrize("args, message", [
    (["export", "--from", "2026-13-01"], "--from takes a date such as 2026-12-01"),
    (["export", "--from", "2026-12-02", "--to", "2026-12-01"], "is after --to"),
    (["export", "--source", "line"], "--source takes chatdealer or spalo"),
    (["events", "--event", "nope"], "--event takes one of"),
    (["export", "stray"], "unexpected argument 'stray'"),
])
def test_wrong_arguments_say_what_is_wrong(site, args, message):
    r = cli(site, *args)
    assert r.returncode == 2 and message in r.stderr.decode(), r.stderr


def test_events_lists_a_line_each_and_follow_shows_new_ones(site):
    first = post(site, "scenario", sample("scenario"))
    r = cli(site, "events")
    [line] = r.stdout.decode().splitlines()
    assert first in line and "chatdealer/scenario" in line and "chat 21252" in line and "失敗: command" in line
    p = subprocess.Popen([str(BIN_DIR / "chathooks"), "events", "--follow", "--config", str(site.config_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        out = b""
        deadline = time.monotonic() + 15
        while first.encode() not in out and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 1)[0]:
                out += os.read(p.stdout.fileno(), 65536)
        second = post(site, "chat-start", sample("chat-start", chat_id="99999"))
        while second.encode() not in out and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 1)[0]:
                out += os.read(p.stdout.fileno(), 65536)
        record_evidence("cli-stdout", out)
        assert second.encode() in out and b"chat 99999" in out, out
        # The first event once (listed; not again when following).
        assert sum(line.startswith(b"20") and first.encode() in line.split(b"  ")[2] for line in out.splitlines()) == 1
    finally:
        p.kill()
        p.wait(timeout=10)


def test_a_retried_mail_shows_as_done_in_the_export(tmp_path):
    """A mail that waited in the spool and went out on `chathooks retry`: the
    export's outcome is the retry's."""
    root = tmp_path / "retry"
    root.mkdir()
    (root / "sendmail").write_text("#!/bin/sh\ncat > /dev/null\n[ -e \"$(dirname \"$0\")/down\" ] && exit 75\nexit 0\n")
    (root / "sendmail").chmod(0o755)
    (root / "down").write_text("")
    site = Site(root, config_text=CONFIG.replace("/nonexistent/sendmail", str(root / "sendmail")) % {"token": TOKEN1})
    rid = post(site, "form", sample("form"))
    assert read_csv(cli(site, "export").stdout)[0]["処理結果"].startswith("保留: mail")
    (root / "down").unlink()
    r = cli(site, "retry")
    assert r.returncode == 0, r.stdout
    [row] = read_csv(cli(site, "export").stdout)
    assert (row["リクエストID"], row["処理結果"]) == (rid, "成功")


def test_every_month_is_exported_once(tmp_path):
    """With a monthly journal, events received on either side of a month's end
    are each exported once, in order."""
    site = Site(tmp_path / "months", config_text=CONFIG.replace('fsync: false }', 'fsync: false, rotate: "monthly" }')
                % {"token": TOKEN1})
    ids = []
    for clock in ["2026-11-30T23:59:59.900+09:00", "2026-12-01T00:00:00.100+09:00", "2026-12-01T00:00:00.200+09:00"]:
        r = site.run("chatdealer-chat-start", sample("chat-start"), extra={"CHATHOOKS_TEST_CLOCK": clock})
        assert r.status == 200, r.body
        ids.append(r.json["id"])
    assert sorted(p.name for p in (site.root / "data").glob("journal*")) == ["journal-2026-11.jsonl", "journal-2026-12.jsonl"]
    rows = read_csv(cli(site, "export").stdout)
    assert [row["リクエストID"] for row in rows] == ids
    assert [row["受信日時"] for row in rows] == ["2026-11-30 23:59:59", "2026-12-01 00:00:00", "2026-12-01 00:00:00"]
    assert len(read_csv(cli(site, "export", "--from", "2026-12-01").stdout)) == 2
