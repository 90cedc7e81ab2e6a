"""The command action: an argument vector (no shell), the event on stdin, a
clean environment, a timeout, output to the error log, and replay."""
import json
import os
import stat

import pytest

from cgi_run import TOKEN, CGISite

RECORDER = """#!/bin/sh
# Records how it was run, then exits with the status in its file.
out="$(dirname "$0")/../out"
mkdir -p "$out"
n=$(ls "$out" | grep -c "argv$")
{ for a in "$0" "$@"; do printf '%s\\n' "$a"; done; } > "$out/$n.argv"
cat > "$out/$n.stdin"
env > "$out/$n.env"
echo "recorded run $n"
echo "a warning" >&2
exit $(cat "$(dirname "$0")/status")
"""


@pytest.fixture
def site(tmp_path):
    action = ('{ type: "command", argv: ["bin/record", "--flag", "値 with spaces", "$HOME;rm -rf /"], timeout: 5, '
              'env: { API_KEY: { env: "PARENT_SECRET" }, MODE: "test" } }')
    slow = '{ type: "command", argv: ["/bin/sleep", "30"], timeout: 1 }'
    s = CGISite(tmp_path / "site", {"form": [action], "scenario": [slow]},
                extra_env={"PARENT_SECRET": "s3cret-for-the-script", "OTHER_SECRET": "never-passed-on"})
    record = s.bin / "record"
    record.write_text(RECORDER)
    record.chmod(0o755)
    (s.bin / "status").write_text("0\n")
    return s


def runs(site):
    out = site.root / "out"
    return sorted(out.glob("*.argv")) if out.exists() else []


def read_run(site, n):
    out = site.root / "out"
    argv = (out / f"{n}.argv").read_text(encoding="utf-8").splitlines()
    env = dict(line.split("=", 1) for line in (out / f"{n}.env").read_text(encoding="utf-8").splitlines() if "=" in line)
    return argv, (out / f"{n}.stdin").read_bytes(), env


def test_arguments_stdin_and_a_clean_environment(site):
    r = site.post("form", site.sample("form"))
    assert r.status == 200, (r.body, r.stderr)
    argv, stdin, env = read_run(site, 0)
    assert argv == [str(site.bin / "record"), "--flag", "値 with spaces", "$HOME;rm -rf /"]
    [line] = site.journal_lines()
    assert stdin.decode() == line + "\n"  # the journal line, secrets removed
    assert env["CHATHOOKS_EVENT"] == "form" and env["CHATHOOKS_SOURCE"] == "chatdealer"
    assert env["CHATHOOKS_REQUEST_ID"] == r.json["id"] and env["CHATHOOKS_CHAT_ID"] == "21252"
    assert env["API_KEY"] == "s3cret-for-the-script" and env["MODE"] == "test"
    assert "OTHER_SECRET" not in env and "PARENT_SECRET" not in env
    assert not any(k.startswith("HTTP_") for k in env) and TOKEN not in "".join(env.values())
    # Its output is in the web server's error log, marked with the request.
    assert f"command record {r.json['id']} stdout: recorded run 0" in r.stderr
    assert f"command record {r.json['id']} stderr: a warning" in r.stderr


def test_a_failing_command_is_reported_and_can_be_replayed(site):
    (site.bin / "status").write_text("3\n")
    r = site.post("form", site.sample("form"))
    assert r.status == 500
    assert r.json["error"] == "action_failed" and r.json["id"]
    assert "exited with status 3" in r.json["message"] and f"chathooks replay {r.json['id']}" in r.json["message"]
    assert len(site.journal_lines()) == 1  # the event is kept
    (site.bin / "status").write_text("0\n")
    done = site.cli("replay", "--config", str(site.config), r.json["id"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{r.json['id']} chatdealer/form: 1 action done" in done.stdout
    assert len(runs(site)) == 2 and len(site.journal_lines()) == 1
    _, stdin, env = read_run(site, 1)
    assert stdin.decode() == site.journal_lines()[0] + "\n" and env["CHATHOOKS_REQUEST_ID"] == r.json["id"]


def test_replay_says_what_it_cannot_find(site):
    done = site.cli("replay", "--config", str(site.config), "01NOSUCHREQUEST0000000000")
    assert done.returncode == 1 and "not in" in done.stdout


def test_a_command_that_runs_too_long_is_killed(site):
    r = site.post("scenario", site.sample("scenario"))
    assert r.status == 500
    assert "did not finish within 1 s" in r.json["message"]
    assert len(site.journal_lines()) == 1
