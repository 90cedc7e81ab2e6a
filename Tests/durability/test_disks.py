"""Full and unwritable disks (issue #9): a small tmpfs filled up, a read-only
bind mount, a journal path that is a folder. Each time: a 500 (never a 200
for an event that is not kept), no partial line in any file, the FastCGI
process lives on, and the next event once the disk is usable again is whole.
The mounts need root and a kernel that lets this process mount; without them
the test is skipped, saying why."""
import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from durable import (BigBody, DSite, FastCGIProcess, Sent, TIMEOUT, alive, check_new_line, fcgi_params, fcgi_post,
                     probe_name, replay, small_body, small_expect, tail_info, unchanged, verify)


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT)


def mount_or_skip(*argv, what):
    done = run("mount", *argv)
    if done.returncode != 0:
        pytest.skip(f"{what} is not allowed here (mount {' '.join(argv)}: {' '.join(done.stderr.split()) or done.returncode}); "
                    "these tests need root with CAP_SYS_ADMIN, e.g. a CI runner or a privileged container")


def unmount(path):
    if run("umount", str(path)).returncode != 0:
        run("umount", "-l", str(path))


@contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    mount_or_skip("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path), what="mounting a tmpfs")
    try:
        yield path
    finally:
        unmount(path)


@contextmanager
def read_only(path: Path):
    """`path` bind-mounted onto itself, then made read-only; yields a function
    that makes it writable again."""
    mount_or_skip("--bind", str(path), str(path), what="a bind mount")
    try:
        mount_or_skip("-o", "remount,bind,ro", str(path), what="remounting a bind mount read-only")
        # As root, only the mount stops a write: check that it does.
        with pytest.raises(OSError) as e:
            open(path / "probe-write", "wb").close()
        assert e.value.errno == errno.EROFS

        def writable():
            done = run("mount", "-o", "remount,bind,rw", str(path))
            assert done.returncode == 0, done.stderr
        yield writable
    finally:
        unmount(path)


def fill(folder: Path, leave: int) -> Path:
    """Fills the file system of `folder` up, then frees about `leave` bytes."""
    filler = folder / "filler"
    chunk = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as f:
        try:
            while f.write(chunk):
                pass
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


def cgi(site, sent, probe, body, expect, **kw):
    before = tail_info(site.journal_path), tail_info(site.append_path)
    o = site.run(body, **kw)
    sent.append(Sent(probe, expect, o))
    return o, before


def expect_refused(o, code="journal_failed", says=None):
    assert o.returncode == 0, (o.returncode, o.stderr)
    assert (o.status, o.code) == (500, code), (o.status, o.body, o.stderr[-1000:])
    if says:
        assert says in o.stderr, o.stderr


def expect_whole(site, o, before, expect, append=True):
    assert o.status == 200 and o.returncode == 0, (o.status, o.body, o.stderr[-1000:])
    check_new_line(site.journal_path, before[0], o.rid, expect)
    if append:
        check_new_line(site.append_path, before[1], o.rid, expect)


def fastcgi_post(site, proc, body):
    answer = fcgi_post(proc.sock, fcgi_params(site, "chat-end", len(body)), body)
    assert answer.ended, answer.error
    return answer.outcome()


def test_a_full_disk_gets_a_500_leaves_no_partial_line_and_the_next_event_is_whole(site, tmp_path):
    big = BigBody(256 << 10)
    sent = []
    fcgi = FastCGIProcess(site, tmp_path / "fcgi.sock", tmp_path / "fcgi.log")
    with tmpfs(site.root / "data", "1m") as data:
        o, before = cgi(site, sent, "d-seed", small_body("d-seed"), small_expect("d-seed"))
        expect_whole(site, o, before, small_expect("d-seed"))
        fcgi.start()
        try:
            filler = fill(data, 16 << 10)  # room for part of a line, never a whole big one
            state = unchanged(site, None)
            for i in range(3):  # each time the write fails part way and is cut back
                probe = probe_name("d-full", i)
                o, _ = cgi(site, sent, probe, big.bytes(probe), big.expect(probe))
                expect_refused(o, says="No space left on device")
                unchanged(site, state)
            probe = probe_name("d-fcgi", 0)
            o = fastcgi_post(site, fcgi, big.bytes(probe))
            sent.append(Sent(probe, big.expect(probe), o))
            expect_refused(o, says="No space left on device")
            unchanged(site, state)
            assert alive(fcgi.pid)
            # Space again: the very next events, CGI and FastCGI, are whole.
            filler.unlink()
            probe = probe_name("d-after", 0)
            o, before = cgi(site, sent, probe, big.bytes(probe), big.expect(probe))
            expect_whole(site, o, before, big.expect(probe))
            probe = probe_name("d-after", 1)
            before = tail_info(site.journal_path), tail_info(site.append_path)
            o = fastcgi_post(site, fcgi, big.bytes(probe))
            sent.append(Sent(probe, big.expect(probe), o))
            expect_whole(site, o, before, big.expect(probe))
            verify(site, sent, "full tmpfs")
        finally:
            fcgi.stop()


def test_a_full_disk_under_the_append_file_keeps_the_event_and_replay_completes_it(bin_dir, tmp_path):
    chats = tmp_path / "chats"
    site = DSite(tmp_path / "site", bin_dir, append=str(chats / "{chat_id}.jsonl"))
    big = BigBody(256 << 10)
    sent = []
    with tmpfs(chats, "1m"):
        o, before = cgi(site, sent, "a-seed", small_body("a-seed"), small_expect("a-seed"))
        expect_whole(site, o, before, small_expect("a-seed"))
        filler = fill(chats, 16 << 10)
        append_before = unchanged(site, None)[1]
        probe = probe_name("a-full", 0)
        o, before = cgi(site, sent, probe, big.bytes(probe), big.expect(probe))
        # The journal took the event; the copy did not fit: 500 action_failed, naming the event.
        expect_refused(o, "action_failed", says="No space left on device")
        rid = o.rid
        assert rid and rid in o.body["message"]
        check_new_line(site.journal_path, before[0], rid, big.expect(probe))
        assert unchanged(site, None)[1] == append_before, "a partial line in the append file"
        # Space again: replaying the event runs the append once more, whole.
        filler.unlink()
        done = subprocess.run([str(bin_dir / "chathooks"), "replay", "--config", str(site.config_path), rid],
                              capture_output=True, text=True, timeout=TIMEOUT, env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0 and f"{rid} chatdealer/chat-end: 1 action done" in done.stdout, done
        check_new_line(site.append_path, before[1], rid, big.expect(probe))
        probe = probe_name("a-after", 0)
        o, before = cgi(site, sent, probe, big.bytes(probe), big.expect(probe))
        expect_whole(site, o, before, big.expect(probe))
        verify(site, sent, "full tmpfs under the append file")


def test_a_read_only_mount_gets_a_500_and_the_next_event_after_remounting_is_whole(site, tmp_path):
    big = BigBody(64 << 10)
    sent = []
    o, before = cgi(site, sent, "r-seed", small_body("r-seed"), small_expect("r-seed"))
    expect_whole(site, o, before, small_expect("r-seed"))
    # A second site whose data folder is empty: nothing may be created in it.
    empty = DSite(tmp_path / "empty", site.bin_dir)
    (empty.root / "data").mkdir()
    fcgi = FastCGIProcess(site, tmp_path / "fcgi.sock", tmp_path / "fcgi.log").start()
    try:
        with read_only(site.root / "data") as writable, read_only(empty.root / "data"):
            state = unchanged(site, None)
            probe = probe_name("r-ro", 0)
            o, _ = cgi(site, sent, probe, big.bytes(probe), big.expect(probe))
            expect_refused(o, says="Read-only file system")
            probe = probe_name("r-ro", 1)
            o = fastcgi_post(site, fcgi, big.bytes(probe))
            sent.append(Sent(probe, big.expect(probe), o))
            expect_refused(o, says="Read-only file system")
            assert alive(fcgi.pid)
            unchanged(site, state)
            o = empty.run(small_body("r-empty"))
            expect_refused(o, says="Read-only file system")
            assert list((empty.root / "data").iterdir()) == []
            writable()
            probe = probe_name("r-rw", 0)
            o, before = cgi(site, sent, probe, big.bytes(probe), big.expect(probe))
            expect_whole(site, o, before, big.expect(probe))
            probe = probe_name("r-rw", 1)
            before = tail_info(site.journal_path), tail_info(site.append_path)
            o = fastcgi_post(site, fcgi, big.bytes(probe))
            sent.append(Sent(probe, big.expect(probe), o))
            expect_whole(site, o, before, big.expect(probe))
    finally:
        fcgi.stop()
    verify(site, sent, "read-only bind mount")


def test_a_journal_path_that_is_a_folder_gets_a_500_and_runs_nothing(site, tmp_path):
    sent = []
    site.journal_path.mkdir(parents=True)
    fcgi = FastCGIProcess(site, tmp_path / "fcgi.sock", tmp_path / "fcgi.log").start()
    try:
        o, _ = cgi(site, sent, "f-dir", small_body("f-dir"), small_expect("f-dir"))
        expect_refused(o, says="Is a directory")
        o = fastcgi_post(site, fcgi, small_body("f-dir-fcgi"))
        sent.append(Sent("f-dir-fcgi", small_expect("f-dir-fcgi"), o))
        expect_refused(o, says="Is a directory")
        assert site.journal_path.is_dir() and list(site.journal_path.iterdir()) == []
        assert not site.append_path.exists(), "an action ran although the event was not journaled"
        assert alive(fcgi.pid)
        site.journal_path.rmdir()
        o, before = cgi(site, sent, "f-file", small_body("f-file"), small_expect("f-file"))
        expect_whole(site, o, before, small_expect("f-file"))
        before = tail_info(site.journal_path), tail_info(site.append_path)
        o = fastcgi_post(site, fcgi, small_body("f-file-fcgi"))
        sent.append(Sent("f-file-fcgi", small_expect("f-file-fcgi"), o))
        expect_whole(site, o, before, small_expect("f-file-fcgi"))
    finally:
        fcgi.stop()
    verify(site, sent, "journal path a folder")


def test_an_append_path_that_is_a_folder_keeps_the_event(site):
    sent = []
    site.append_path.mkdir(parents=True)
    o, before = cgi(site, sent, "g-dir", small_body("g-dir"), small_expect("g-dir"))
    expect_refused(o, "action_failed")
    check_new_line(site.journal_path, before[0], o.rid, small_expect("g-dir"))
    assert replay(site, [o.rid]).found == {o.rid}
    assert list(site.append_path.iterdir()) == []
    site.append_path.rmdir()
    o, before = cgi(site, sent, "g-file", small_body("g-file"), small_expect("g-file"))
    expect_whole(site, o, before, small_expect("g-file"))
    verify(site, sent, "append path a folder")
