"""A 200 means kept, even after a crash or under a file-size limit: the
journal's torn last line (a writer killed mid-write) never swallows the next
acknowledged event, and SIGXFSZ never kills a handler (issue #9)."""
import json
import resource
import subprocess
import sys
from pathlib import Path

from cgi_site import BIN_DIR, Site
from test_handlers import SAMPLES, assert_error, assert_ok


def replay_finds(site: Site, *ids):
    """The product's own journal reader (`chathooks replay`) reads these ids."""
    # Actions of a type no event has: nothing runs, every id is looked up.
    proc = subprocess.run([str(BIN_DIR / "chathooks"), "replay", "--config", str(site.config_path), "--only", "command", *ids],
                          cwd=site.root, capture_output=True, timeout=10, env={"PATH": "/usr/bin:/bin", "CD_TOKEN2": "x" * 20})
    return proc


def test_a_torn_last_line_is_closed_and_the_next_event_stays_readable(site):
    first = assert_ok(site.run("chatdealer-chat-end", SAMPLES["chat-end"]))
    # What a writer killed in the middle of its write leaves: a fragment, no newline.
    whole = site.journal_path.read_bytes()
    fragment = whole[:-1][: len(whole) // 2].replace(first.encode(), b"01KBBGTORNTORNTORNTORNTORN")
    with open(site.journal_path, "ab") as f:
        f.write(fragment)
    chat_file = site.root / "data" / "chats" / "21252.jsonl"
    with open(chat_file, "ab") as f:
        f.write(b'{"torn":')
    result = site.run("chatdealer-chat-end", SAMPLES["chat-end"])
    second = assert_ok(result)
    lines = site.journal_path.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the journal ends with a newline"
    assert lines[1] == fragment, "the fragment is kept, as a line of its own"
    assert json.loads(lines[2])["request_id"] == second
    assert [json.loads(lines[0])["request_id"], json.loads(lines[2])["request_id"]] == [first, second]
    # stderr names the file, the fragment's offset and length, and the request it was for.
    assert f"{site.journal_path}: the last line was torn ({len(fragment)} bytes at byte offset {len(whole)} " in result.stderr
    assert "request 01KBBGTORNTORNTORNTORNTORN" in result.stderr
    # The append action's file is treated the same way.
    chat_lines = chat_file.read_bytes().split(b"\n")
    assert chat_lines[1] == b'{"torn":' and json.loads(chat_lines[2])["request_id"] == second
    # The product's reader reads both events and reports the fragment by its offset.
    found = replay_finds(site, first, second)
    assert found.returncode == 0, found.stdout + found.stderr
    assert f"{first} chatdealer/chat-end: 0 actions done" in found.stdout.decode()
    assert f"{second} chatdealer/chat-end: 0 actions done" in found.stdout.decode()
    assert f"line 2 (byte offset {len(whole)}, {len(fragment)} bytes) is not a journal record" in found.stderr.decode()


def test_a_file_the_user_left_without_its_last_newline_loses_nothing(site):
    # An append file seeded by hand, with no final newline: its line stays whole.
    chat_file = site.root / "data" / "chats" / "21252.jsonl"
    chat_file.parent.mkdir(parents=True)
    chat_file.write_bytes(b"# chats of 21252")
    rid = assert_ok(site.run("chatdealer-chat-end", SAMPLES["chat-end"]))
    first, second, end = chat_file.read_bytes().split(b"\n")
    assert (first, end) == (b"# chats of 21252", b"")
    assert json.loads(second)["request_id"] == rid


def limited(size):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


def run_limited(site, handler, body, limit):
    proc = subprocess.Popen([str(BIN_DIR / handler)], env=site.env(length=len(body)), cwd=site.root,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=limited(limit))
    out, err = proc.communicate(body, timeout=10)
    return Site.result(proc.returncode, out, err)


def test_a_file_size_limit_gets_a_500_and_leaves_no_partial_line(site):
    first = assert_ok(site.run("chatdealer-chat-message", SAMPLES["chat-message"]))
    before = site.journal_path.read_bytes()
    body = json.dumps(SAMPLES["chat-message"], ensure_ascii=False).encode()
    # Room for 100 more bytes: the next line does not fit.
    result = run_limited(site, "chatdealer-chat-message", body, len(before) + 100)
    assert result.returncode == 0, f"killed by signal {-result.returncode}" if result.returncode < 0 else result.stderr
    assert_error(site, result, 500, "journal_failed", "could not be written to the journal", "nothing was run",
                 journal_before=before.decode().splitlines())
    assert "File too large" in result.stderr
    assert site.journal_path.read_bytes() == before, "the line was cut back whole"
    # With room again, the next event is whole and readable.
    second = assert_ok(site.run("chatdealer-chat-message", SAMPLES["chat-message"]))
    assert [r["request_id"] for r in site.journal()] == [first, second]


def test_a_file_size_limit_hit_by_an_action_is_reported_and_the_event_kept(site):
    # The journal line fits; the chat file's copy of it does not (it already holds much).
    chat_file = site.root / "data" / "chats" / "21252.jsonl"
    chat_file.parent.mkdir(parents=True)
    chat_file.write_bytes(b"x\n" * 4096)
    body = json.dumps(SAMPLES["chat-end"], ensure_ascii=False).encode()
    result = run_limited(site, "chatdealer-chat-end", body, 8192 + 100)
    assert result.returncode == 0, result.stderr
    [record] = site.journal()
    assert (result.status, result.json["error"], result.json["id"]) == (500, "action_failed", record["request_id"])
    assert "append: the file could not be written" in result.json["message"]
    assert "File too large" in result.stderr
    assert chat_file.read_bytes() == b"x\n" * 4096, "no partial line in the action's file"
    found = replay_finds(site, record["request_id"])
    assert found.returncode == 0, found.stderr
