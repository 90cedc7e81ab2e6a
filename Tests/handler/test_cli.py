"""The admin CLI behaves like one (issue #11): each subcommand has its own
--help (rc 0); anything wrong gets one line saying what, then the usage, on
stderr (rc 2); --config works everywhere (the positional form still works for
check and retry); --version names the version and the linked C libraries;
retry and replay say what they did."""
import re
import subprocess
from pathlib import Path

import pytest

from cgi_site import BIN_DIR
from test_handlers import SAMPLES, assert_ok

REPO = Path(__file__).resolve().parents[2]


def cli(*args, cwd=None, env=None):
    return subprocess.run([str(BIN_DIR / "chathooks"), *args], capture_output=True, text=True, timeout=10, cwd=cwd,
                          env=env or {"PATH": "/usr/bin:/bin", "CD_TOKEN2": "x" * 24})


@pytest.mark.parametrize("command", ["check", "retry", "replay"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_subcommand_has_its_own_help(command, flag):
    r = cli(command, flag)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith(f"usage: chathooks {command} [--config CONFIG")
    assert "CONFIG defaults to $CHATHOOKS_CONFIG" in r.stdout
    assert cli("help", command).stdout == r.stdout


def test_the_overview_and_version():
    r = cli("--help")
    assert r.returncode == 0 and "chathooks replay [--config CONFIG]" in r.stdout and "--version" in r.stdout
    v = cli("--version")
    version = (REPO / "VERSION").read_text().strip()
    assert v.returncode == 0 and v.stderr == ""
    assert re.fullmatch(rf"chathooks {re.escape(version)} \(libfcgi \d+\.\d+\.\d+, libxcrypt \d+\.\d+\.\d+, SQLite \d+\.\d+\.\d+\)\n", v.stdout), v.stdout
    # The versions are the build's own, from the headers of the linked libraries.
    fcgi = re.search(r'#define VERSION "([^"]+)"', Path("/usr/include/fcgi_config.h").read_text()).group(1)
    xcrypt = re.search(r'#define XCRYPT_VERSION_STR "([^"]+)"', Path("/usr/include/crypt.h").read_text()).group(1)
    sqlite = re.search(r'#define SQLITE_VERSION +"([^"]+)"', Path("/usr/include/sqlite3.h").read_text()).group(1)
    assert f"libfcgi {fcgi}, libxcrypt {xcrypt}, SQLite {sqlite}" in v.stdout


WRONG = [
    (["check", "a.json5", "b.json5"], "chathooks check: one configuration file at most, not 2 ('a.json5' 'b.json5')", "check"),
    (["check", "--config"], "chathooks check: --config needs a value", "check"),
    (["check", "--config", "x", "y"], "chathooks check: the configuration is given twice (--config and 'y')", "check"),
    (["check", "--frob"], "chathooks check: unknown option '--frob'", "check"),
    (["retry", "--only", "mail"], "chathooks retry: unknown option '--only'", "retry"),
    (["replay", "--only", "foo", "01X"], "chathooks replay: --only takes append, mail or command, not 'foo'", "replay"),
    (["replay", "--config"], "chathooks replay: --config needs a value", "replay"),
    (["replay"], "chathooks replay: no request id given", "replay"),
    (["frob"], "chathooks: unknown command 'frob'", None),
    ([], "chathooks: no command given", None),
    (["--version", "x"], "chathooks: --version takes no arguments", None),
]


@pytest.mark.parametrize("args,first_line,command", WRONG, ids=[" ".join(w[0]) or "none" for w in WRONG])
def test_wrong_arguments_say_what_is_wrong_then_the_usage(args, first_line, command):
    r = cli(*args)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0].startswith(first_line), r.stderr
    usage = f"usage: chathooks {command}" if command else "usage: chathooks check"
    assert lines[1].startswith(usage), r.stderr


def test_config_option_everywhere_and_positional_still_works(site):
    path = str(site.config_path)
    for args in (["check", path], ["check", "--config", path], ["check", f"--config={path}"], ["check", "-c", path]):
        r = cli(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.startswith(f"{path}: valid\n")
    # From the environment too.
    r = cli("check", env={"PATH": "/usr/bin:/bin", "CD_TOKEN2": "x" * 24, "CHATHOOKS_CONFIG": path})
    assert r.returncode == 0 and r.stdout.startswith(f"{path}: valid\n")
    for args in (["retry", path], ["retry", "--config", path]):
        r = cli(*args)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "no mail action is configured: there is no spool\n"


def test_replay_says_what_it_did(site):
    first = assert_ok(site.run("chatdealer-chat-end", SAMPLES["chat-end"]))
    r = cli("replay", "--config", str(site.config_path), first, "01KBBGNOTTHERE0000000000000")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f"{first} chatdealer/chat-end: 1 action done"
    assert lines[1] == f"01KBBGNOTTHERE0000000000000: not in {site.journal_path}"
    assert lines[2] == "replayed 1 event (0 with a failed or deferred action); 1 not found"


def test_an_invalid_config_is_named_by_every_command(site):
    site.write_config(site.config_path.read_text(encoding="utf-8").replace("spalo: {", "spalo: {\n    bogus: 1,"))
    r = cli("check", str(site.config_path))
    assert r.returncode == 1
    assert "spalo.bogus: unknown key" in r.stderr
    for args in (["retry", str(site.config_path)], ["replay", "--config", str(site.config_path), "01X"]):
        r = cli(*args)
        assert r.returncode == 2 and "spalo.bogus: unknown key" in r.stderr
        assert f"(run: chathooks check {site.config_path})" in r.stderr
    # The receivers of the other sender still work.
    assert_ok(site.run("chatdealer-chat-start", SAMPLES["chat-start"]))
