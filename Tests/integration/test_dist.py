"""The shared-hosting bundle (`make dist`): small, static, stripped, and it runs
on a host without Swift — here a chroot that holds nothing but the unpacked
bundle, a config and its data folder."""
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from itkit import TOKEN, config_text, sample
from stack import dist_tarball, keep_evidence, record_evidence

MAX_UNPACKED = 25 * 1024 * 1024


def test_bundle_holds_what_install_needs_and_is_small():
    with tarfile.open(dist_tarball()) as tar:
        members = {m.name: m for m in tar.getmembers()}
    for name in ["chathooks/chathooks.cgi", "chathooks/.htaccess", "chathooks/chathooks.json5",
                 "chathooks/INSTALL.md", "chathooks/data/.htaccess", "chathooks/secrets/.htaccess", "chathooks/SHA256SUMS"]:
        assert name in members, name
    assert members["chathooks/chathooks.cgi"].mode & 0o755 == 0o755
    assert members["chathooks/chathooks.json5"].mode & 0o077 == 0  # not readable by others
    assert sum(m.size for m in members.values()) <= MAX_UNPACKED
    assert all(not m.name.endswith(".cgi") or m.isfile() for m in members.values())


@pytest.fixture(scope="module")
def chroot_site():
    with tempfile.TemporaryDirectory(prefix="chathooks-dist-") as tmp:
        root = Path(tmp)
        with tarfile.open(dist_tarball()) as tar:
            tar.extractall(root, filter="tar")
        folder = root / "chathooks"
        (folder / "chathooks.json5").write_text(config_text(), encoding="utf-8")
        yield root, folder
        keep_evidence("dist-chroot", folder)  # its journal, for Tests/zz_secrets


def readelf(path, flag):
    return subprocess.run(["readelf", flag, "-W", str(path)], capture_output=True, text=True, check=True).stdout


def test_the_executable_is_static_and_stripped(chroot_site):
    _, folder = chroot_site
    exe = folder / "chathooks.cgi"
    assert "INTERP" not in readelf(exe, "-l")       # no dynamic loader
    assert "(NEEDED)" not in readelf(exe, "-d")     # no shared libraries
    assert ".symtab" not in readelf(exe, "-S")      # stripped


def run_in_chroot(root, argv, env, body=b"", proc=True):
    """Runs in a chroot whose only other content is, with `proc`, the kernel's
    /proc (mounted in a private namespace, gone afterwards), as on any Linux
    host; without it, /proc is an empty folder. chroot needs root; elsewhere an
    unprivileged user namespace does it."""
    (root / "proc").mkdir(exist_ok=True)
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    unshare = [shutil.which("unshare") or "/usr/bin/unshare"] + ([] if os.geteuid() == 0 else ["-r"])
    mount_proc = [f"--mount-proc={root}/proc"] if proc else []
    argv = unshare + ["--mount", "--pid", "--fork"] + mount_proc + [chroot, str(root)] + argv
    done = subprocess.run(argv, input=body, env=env, capture_output=True, timeout=10)
    record_evidence("cgi-stdout", done.stdout)  # for Tests/zz_secrets
    record_evidence("cgi-stderr", done.stderr)
    return done


@pytest.mark.parametrize("handler", ["chatdealer-chat-start", "chatdealer-chat-end", "chatdealer-form", "spalo-dataset"])
def test_the_bundle_answers_in_a_root_with_nothing_else(chroot_site, handler):
    root, folder = chroot_site
    # Nothing but the bundle: no /lib, no /usr, no /etc, no Swift (and /proc, empty until mounted).
    assert sorted(p.name for p in root.iterdir() if p.name != "proc") == ["chathooks"]
    body = json.dumps(sample(handler)).encode()
    route = "/spalo/dataset" if handler == "spalo-dataset" else "/chatdealer/" + handler[len("chatdealer-"):]
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
           "CONTENT_TYPE": "application/json", "PATH_INFO": route, "REMOTE_ADDR": "192.0.2.10",
           "HTTP_X_CHATHOOKS_TOKEN": TOKEN}
    before = (folder / "data" / "journal.jsonl").read_text().count("\n") if (folder / "data" / "journal.jsonl").exists() else 0
    # The config is found beside the executable, with no CHATHOOKS_CONFIG.
    result = run_in_chroot(root, ["/chathooks/chathooks.cgi"], env, body)
    assert result.returncode == 0, result.stderr
    head, _, payload = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK"), result.stdout[:300] + result.stderr
    lines = (folder / "data" / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == before + 1
    assert json.loads(lines[-1])["remote_addr"] == "192.0.2.10"


def test_the_bundle_needs_no_proc(chroot_site):
    """Without /proc (a stripped-down container or chroot) the receiver still
    starts, and finds its config beside the path it was started by."""
    root, folder = chroot_site
    assert not any((root / "proc").iterdir())
    body = json.dumps(sample("chatdealer-chat-start")).encode()
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
           "CONTENT_TYPE": "application/json", "PATH_INFO": "/chatdealer/chat-start", "REMOTE_ADDR": "192.0.2.11",
           "HTTP_X_CHATHOOKS_TOKEN": TOKEN}
    result = run_in_chroot(root, ["/chathooks/chathooks.cgi"], env, body, proc=False)
    assert result.stdout.startswith(b"Status: 200 OK"), result.stdout[:300] + result.stderr
    last = (folder / "data" / "journal.jsonl").read_text(encoding="utf-8").splitlines()[-1]
    assert json.loads(last)["remote_addr"] == "192.0.2.11"


def test_a_query_string_never_reaches_the_admin_command(chroot_site):
    root, _ = chroot_site
    # RFC 3875 §4.4: a query without '=' may be passed as arguments.
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "PATH_INFO": "/chatdealer/form",
           "QUERY_STRING": "check"}
    result = run_in_chroot(root, ["/chathooks/chathooks.cgi", "check"], env)
    assert result.stdout.startswith(b"Status: 405"), result.stdout[:300]
    assert b"valid" not in result.stdout


def test_the_bundle_as_shipped_never_runs_open():
    """Until its placeholders are replaced, the shipped config is refused: 503."""
    with tempfile.TemporaryDirectory(prefix="chathooks-dist-") as tmp:
        root = Path(tmp)
        with tarfile.open(dist_tarball()) as tar:
            tar.extractall(root, filter="tar")
        body = json.dumps(sample("chatdealer-chat-start")).encode()
        env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
               "PATH_INFO": "/chatdealer/chat-start", "HTTP_X_CHATHOOKS_TOKEN": "change-me-to-a-long-random-token"}
        result = run_in_chroot(root, ["/chathooks/chathooks.cgi"], env, body)
        assert result.stdout.startswith(b"Status: 503"), result.stdout[:200]
        assert b"still the example's placeholder" in result.stderr
        assert not (root / "chathooks" / "data" / "journal.jsonl").exists()


def test_install_names_the_shipped_executables_size_and_sha256():
    """An upload broken on the way (an FTP client's ASCII mode) can be told
    from a good one: INSTALL.md and SHA256SUMS give what was packed."""
    import hashlib
    with tarfile.open(dist_tarball()) as tar:
        cgi = tar.extractfile("chathooks/chathooks.cgi").read()
        install = tar.extractfile("chathooks/INSTALL.md").read().decode("utf-8")
        sums = tar.extractfile("chathooks/SHA256SUMS").read().decode()
    digest = hashlib.sha256(cgi).hexdigest()
    assert sums == f"{digest}  chathooks.cgi\n"
    assert install.count(digest) >= 2, "the SHA-256 in both languages"
    assert install.count(str(len(cgi))) >= 2, "the size in both languages"
    assert "@CGI_" not in install
