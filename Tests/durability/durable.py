"""Helpers for the durability tests (issue #9): a site with its own copy of
the executables, big chat-end bodies, runs that may be killed, a FastCGI
client and spawn-fcgi'd processes stopped by pid, and the journal read back
by two readers (Python's json, line by line, and the product's own reader
through `chathooks replay`).

The promise under test: a 200 means the event is in the journal and stays
readable whatever happens next. So every check is an invariant that holds for
any interleaving and any kill point; nothing asserts that a kill produced a
fragment (how often it does is only counted and printed).
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for _p in (REPO / "tools", REPO / "Tests" / "integration"):
    if str(_p) not in sys.path:
        sys.path.append(str(_p))

from cgi_reply import parse_cgi  # noqa: E402  (tools/: the strict CGI response reader)
from fastcgi_wire import BEGIN_REQUEST, PARAMS, RESPONDER, STDIN, name_value, read_streams, record  # noqa: E402
from stack import record_evidence  # noqa: E402  (every response and stderr, for Tests/zz_secrets)

SOURCE_BIN_DIR = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
STDERR = 7  # FCGI_STDERR
TOKEN = "durability-token-0123456789"
CHAT_ID = "durable"
MAX_BODY = 8 << 20
TIMEOUT = 30  # seconds: the bound on anything waited for
RECORD_KEYS = ["received_at", "source", "event", "request_id", "remote_addr", "payload"]
SAMPLE_END = json.loads((REPO / "examples" / "samples" / "chat-end.json").read_text(encoding="utf-8"))
SEED = int(os.environ.get("CHATHOOKS_DURABILITY_SEED") or random.SystemRandom().randrange(1 << 30))

# Lines for the run's summary (printed by conftest.py at the end of the run).
SUMMARY: list[str] = []


def note(line: str):
    print(line)
    SUMMARY.append(line)


CONFIG = """{
  // written by Tests/durability/durable.py
  journal: { path: "%(journal)s", fsync: true },
  limits: { maxBodyBytes: %(max_body)d },
  chatdealer: {
    auth: { header: "X-Chathooks-Token", tokens: ["%(token)s"] },
    events: {
      "chat-end": { actions: [ { type: "append", path: "%(append)s" } ] },
    },
  },
}
"""


class DSite:
    """A config, its data folder, and the executables it runs, in a temporary folder."""

    def __init__(self, root: Path, bin_dir: Path, journal="data/journal.jsonl",
                 append="data/chats/{chat_id}.jsonl", max_body=MAX_BODY):
        self.root = Path(root)
        self.bin_dir = bin_dir
        self.root.mkdir(parents=True, exist_ok=True)
        self.journal_path = self.root / journal
        self.append_template = append
        self.config_path = self.root / "chathooks.json5"
        self.config_path.write_text(CONFIG % {"journal": journal, "append": append, "max_body": max_body,
                                              "token": TOKEN}, encoding="utf-8")

    @property
    def append_path(self) -> Path:
        return self.root / self.append_template.replace("{chat_id}", CHAT_ID)

    def env(self, length, token=TOKEN):
        env = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(length),
               "REMOTE_ADDR": "203.0.113.9", "CHATHOOKS_CONFIG": str(self.config_path),
               "TZ": "JST-9", "PATH": "/usr/bin:/bin"}
        if token is not None:
            env["HTTP_X_CHATHOOKS_TOKEN"] = token
        return env

    def popen(self, handler, length, token=TOKEN, **kw):
        return subprocess.Popen([str(self.bin_dir / handler)], env=self.env(length, token), cwd=self.root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def run(self, body: bytes, handler="chatdealer-chat-end", token=TOKEN, length=None, **kw) -> "Outcome":
        """One CGI request to the end."""
        proc = self.popen(handler, len(body) if length is None else length, token, **kw)
        try:
            out, err = proc.communicate(body, timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return Outcome.of(proc.returncode, out, err)

    def discard(self):
        """Removes the data files (hundreds of MB after the kill tests) once a test has passed."""
        for p in (self.journal_path, self.append_path):
            if p.is_file():
                p.unlink()

    def reader_config(self, path: Path) -> Path:
        """A config whose journal is `path`: lets the product's reader read an append file too."""
        config = self.root / f"reader-{path.name}.json5"
        config.write_text('{ journal: { path: "%s" }, chatdealer: { auth: { header: "X-Chathooks-Token", '
                          'tokens: ["%s"] }, events: { "chat-end": { actions: [] } } } }\n' % (path, TOKEN),
                          encoding="utf-8")
        return config


@dataclass
class Outcome:
    """What one request got: a whole response or none."""
    returncode: int | None
    status: int | None = None  # None: no whole response was read
    body: dict | None = None
    stdout: bytes = b""
    stderr: str = ""

    @staticmethod
    def of(returncode, out: bytes, err) -> "Outcome":
        record_evidence("cgi-stdout", out)
        record_evidence("cgi-stderr", err)
        status, body = parse_response(out)
        if isinstance(err, bytes):
            err = err.decode("utf-8", "replace")
        return Outcome(returncode, status, body, out, err)

    @property
    def rid(self):
        """The request id a 200 (or a 500 action_failed) names: the event is journaled."""
        if self.body and self.status == 200 and self.body.get("ok") is True:
            return self.body["id"]
        if self.body and self.status == 500 and self.body.get("error") == "action_failed":
            return self.body["id"]
        return None

    @property
    def code(self):
        return self.body.get("error") if self.body else None


def parse_response(out: bytes):
    """(status, JSON body) of a whole CGI response; (None, None) for anything less."""
    try:
        status, _, _, body = parse_cgi(out)
        return status, json.loads(body)
    except (AssertionError, ValueError, UnicodeDecodeError, IndexError):
        return None, None


# ---------------------------------------------------------------- bodies

FILLER = "お問い合わせありがとうございます。担当者より折り返しご連絡いたします。" * 2
PROBE_WIDTH = 16


def probe_name(prefix, i):
    return f"{prefix}-{i}".ljust(PROBE_WIDTH, "_")[:PROBE_WIDTH]


class BigBody:
    """A chat-end body of about `size` bytes, with a probe placed first in the
    payload (so a fragment of its line names it too). Built once; each request
    gets its own probe by replacing fixed-width bytes."""
    PLACEHOLDER = "P" * PROBE_WIDTH

    def __init__(self, size: int):
        body = {"probe": self.PLACEHOLDER, **SAMPLE_END, "chat_id": CHAT_ID}
        one = {"msg_type": "staff", "post_user": "担当者", "post_date": "2020/12/10 18:30:00", "msg": FILLER}
        per = len(json.dumps(one, ensure_ascii=False).encode()) + 2
        body["chat_detail"] = [dict(one, msg=f"{i} {FILLER}") for i in range(max(1, size // per))]
        self.template = json.dumps(body, ensure_ascii=False).encode()
        self.payload = body
        assert self.template.count(self.PLACEHOLDER.encode()) == 1

    def bytes(self, probe: str) -> bytes:
        return self.template.replace(self.PLACEHOLDER.encode(), probe.encode())

    def expect(self, probe: str) -> dict:
        return dict(self.payload, probe=probe)


def small_body(probe: str) -> bytes:
    return json.dumps({"probe": probe, **SAMPLE_END, "chat_id": CHAT_ID}, ensure_ascii=False).encode()


def small_expect(probe: str) -> dict:
    return {"probe": probe, **SAMPLE_END, "chat_id": CHAT_ID}


# ---------------------------------------------------------------- requests and their fate

@dataclass
class Sent:
    """One request and what the test knows of its fate."""
    probe: str
    expect: dict | None  # the payload its record must carry
    outcome: Outcome | None = None
    killed: bool = False
    note: str = ""

    @property
    def rid(self):
        return self.outcome.rid if self.outcome else None

    @property
    def acknowledged(self):
        return self.outcome is not None and self.outcome.status == 200


def tail_info(path: Path):
    """(size, start of the last line): start < size when the file ends without a newline."""
    if path.is_dir():  # a test that made the path a folder: no lines
        return 0, 0
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0, 0
    try:
        size = os.fstat(fd).st_size
        end = size
        while end > 0:
            start = max(0, end - (1 << 16))
            chunk = os.pread(fd, end - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                return size, start + i + 1
            end = start
        return size, 0
    finally:
        os.close(fd)


def size_of(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def assert_torn_report(stderr: str, path: Path, before):
    """The appender reports a fragment it ended, by offset and length, exactly when there was one."""
    size, start = before
    if start < size:
        expected = f"{path}: the last line was torn ({size - start} bytes at byte offset {start} with no newline"
        assert expected in stderr, (expected, stderr)
    else:
        assert f"{path}: the last line was torn" not in stderr, stderr


def check_new_line(path, before, rid, expect):
    """The bytes appended since `before` are one whole line (after the newline
    that ended a fragment, if there was one) with this request's record."""
    size, start = before
    with open(path, "rb") as f:
        f.seek(size)
        added = f.read()
    if start < size:
        assert added[:1] == b"\n", f"{path}: the fragment at {start} was not ended with a newline"
        added = added[1:]
    assert added.endswith(b"\n") and added.count(b"\n") == 1, f"{path}: not one whole line: {added[:200]!r}…"
    value = json.loads(added)
    assert value["request_id"] == rid and value["payload"] == expect, (path, value["request_id"], rid)


def unchanged(site, before):
    """Both files byte for byte as they were: sizes and their last 64 KiB."""
    def state():
        out = []
        for p in (site.journal_path, site.append_path):
            size = size_of(p)
            with open(p, "rb") as f:
                f.seek(max(0, size - 65536))
                out.append((size, f.read()))
        return out
    if before is None:
        return state()
    assert state() == before, "the files changed although the event was refused"


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def kill_when_growing(pid, paths, done, rng, deadline=TIMEOUT):
    """SIGKILLs `pid` as soon as one of `paths` grows (after a short random
    spin, so kills land at different points of the write). Returns False
    without killing when `done()` comes first."""
    sizes = [size_of(p) for p in paths]
    extra = rng.choice([0, 0, rng.uniform(0, 0.0005), rng.uniform(0, 0.003)])
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if any(size_of(p) > s for p, s in zip(paths, sizes)):
            spin(extra)
            os.kill(pid, signal.SIGKILL)
            return True
        if done():
            return False
    raise AssertionError(f"process {pid} neither wrote nor finished in {deadline}s")


def kill_after(pid, delay, done):
    end = time.monotonic() + delay
    while time.monotonic() < end:
        if done():
            return False
        time.sleep(0.0005)
    os.kill(pid, signal.SIGKILL)
    return True


def run_cgi_maybe_killed(site: DSite, body: bytes, mode: str, rng, delay=0.0, preexec_fn=None) -> Outcome:
    """One CGI request; `mode` "grow-journal", "grow-append" (SIGKILL when that
    file grows), "delay" (SIGKILL after `delay` seconds from the start,
    whatever the process is doing) or "none". The body is written from a thread,
    so a kill may also land while the body is still being read."""
    proc = site.popen("chatdealer-chat-end", len(body), preexec_fn=preexec_fn)

    def feed():
        try:
            proc.stdin.write(body)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        done = lambda: proc.poll() is not None  # noqa: E731
        if mode == "grow-journal":
            kill_when_growing(proc.pid, [site.journal_path], done, rng)
        elif mode == "grow-append":
            kill_when_growing(proc.pid, [site.append_path], done, rng)
        elif mode == "delay":
            kill_after(proc.pid, delay, done)
        proc.wait(timeout=TIMEOUT)
        writer.join(timeout=TIMEOUT)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdout, proc.stderr):
            f.close()
    return Outcome.of(proc.returncode, out, err)


# ---------------------------------------------------------------- FastCGI

@dataclass
class FcgiAnswer:
    stdout: bytes
    stderr: bytes
    ended: bool  # END_REQUEST was received
    error: str = ""

    def outcome(self) -> Outcome:
        return Outcome.of(0 if self.ended else None, self.stdout, self.stderr)


def fcgi_params(site: DSite, event: str, length: int, token=TOKEN):
    params = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": f"/hooks/chatdealer/{event}",
              "REQUEST_URI": f"/hooks/chatdealer/{event}", "CONTENT_TYPE": "application/json",
              "CONTENT_LENGTH": str(length), "CHATHOOKS_CONFIG": str(site.config_path),
              "REMOTE_ADDR": "127.0.0.1"}
    if token is not None:
        params["HTTP_X_CHATHOOKS_TOKEN"] = token
    return params


def fcgi_post(sock_path, params: dict, body: bytes, timeout=TIMEOUT) -> FcgiAnswer:
    """One FastCGI request on a fresh connection (the web server's side)."""
    out, err, ended = [], [], False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock_path))
            encoded = b"".join(name_value(k.encode(), v.encode()) for k, v in params.items())
            head = record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0)) + record(PARAMS, encoded) + record(PARAMS, b"")
            s.sendall(head)
            step = 32768
            for i in range(0, len(body), step):
                s.sendall(record(STDIN, body[i:i + step]))
            s.sendall(record(STDIN, b""))
            _, _, ended = read_streams(s, out, err)
    except OSError as e:
        return FcgiAnswer(b"".join(out), b"".join(err), ended, f"{type(e).__name__}: {e}")
    finally:
        record_evidence("fastcgi-stdout", b"".join(out))
        record_evidence("fastcgi-stderr", b"".join(err))
    return FcgiAnswer(b"".join(out), b"".join(err), ended)


def find_program(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        import pytest
        pytest.skip(f"{name} is not installed")
    return path


def alive(pid) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def holders(pids, path: Path):
    """The pids among `pids` that have `path` open right now (an append in progress)."""
    target, found = str(path), []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    found.append(pid)
                    break
            except OSError:
                pass
    return found


def syscall_state(pid) -> str:
    """The first field of /proc/PID/syscall: "running", or the number of the
    system call the process is blocked in (x86-64: 73 flock, 74 fsync)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return ""


def lock_holder(path: Path):
    """The pid holding the flock on `path` (from /proc/locks), or None."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as f:
            locks = f.read().splitlines()
    except OSError:
        return None
    me = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in locks:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters are "1: -> FLOCK …"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == me:
            return int(fields[4])
    return None


def mid_write(path: Path) -> bool:
    """The file ends without a newline: a line is being written (or was torn)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    finally:
        os.close(fd)


def pick_victim(pids, path: Path, rng, others=0.01):
    """(pid, why) to kill: the lock holder while the file ends without a
    newline ("mid-write": it is inside its write); now and then (`others`)
    another process that has the file open ("holder": waiting for the lock,
    or syncing); else (None, None): poll again."""
    if mid_write(path):
        holder = lock_holder(path)
        if holder in pids:
            return holder, "mid-write"
    if rng.random() < others:
        writing = holders(pids, path)
        if writing:
            return rng.choice(writing), "holder"
    return None, None


def is_ours(pid, program: Path) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0] == str(program).encode()
    except FileNotFoundError:
        return False


class FastCGIProcess:
    """`spawn-fcgi -n`: spawn-fcgi binds the unix socket and execs chathooks
    on it, so the Popen's pid is the FastCGI process itself."""

    def __init__(self, site: DSite, sock: Path, log: Path):
        self.site, self.sock, self.log = site, sock, log
        self.proc = None

    def start(self, preexec_fn=None):
        env = {"CHATHOOKS_CONFIG": str(self.site.config_path), "TZ": "JST-9", "PATH": "/usr/bin:/bin"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [find_program("spawn-fcgi"), "-n", "-s", str(self.sock), "-M", "0600", "--",
                 str(self.site.bin_dir / "chathooks")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=self.site.root,
                start_new_session=True, preexec_fn=preexec_fn)
        wait_listening(self.sock, lambda: self.proc.poll() is not None, self.log)
        deadline = time.monotonic() + TIMEOUT
        while not is_ours(self.proc.pid, self.site.bin_dir / "chathooks"):  # spawn-fcgi has exec'd it
            assert time.monotonic() < deadline and self.proc.poll() is None, read_tail(self.log)
            time.sleep(0.005)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)


class ForkedFastCGI:
    """`spawn-fcgi -F n`: n children on one listening socket. spawn-fcgi forks
    them, prints their pids and exits; they are stopped here by those pids."""

    def __init__(self, site: DSite, sock: Path, log: Path, children: int):
        self.site, self.sock, self.log, self.children = site, sock, log, children
        self.pids = []

    def start(self):
        env = {"CHATHOOKS_CONFIG": str(self.site.config_path), "TZ": "JST-9", "PATH": "/usr/bin:/bin"}
        program = self.site.bin_dir / "chathooks"
        done = subprocess.run([find_program("spawn-fcgi"), "-F", str(self.children), "-s", str(self.sock), "-M", "0600",
                               "--", str(program)], env=env, cwd=self.site.root, capture_output=True,
                              timeout=TIMEOUT, start_new_session=True)
        text = (done.stdout + done.stderr).decode(errors="replace")
        self.pids = [int(p) for p in re.findall(r"PID: (\d+)", text)]
        self.log.write_text(text)
        assert done.returncode == 0 and len(self.pids) == self.children, text
        deadline = time.monotonic() + TIMEOUT
        while not all(is_ours(p, program) for p in self.pids):
            assert time.monotonic() < deadline, text
            time.sleep(0.005)
        wait_listening(self.sock, lambda: False, self.log)
        return self

    def stop(self):
        program = self.site.bin_dir / "chathooks"
        for pid in self.pids:
            if alive(pid) and is_ours(pid, program):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in self.pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in self.pids:
            if alive(pid) and is_ours(pid, program):
                os.kill(pid, signal.SIGKILL)


def wait_listening(sock: Path, exited, log):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert not exited(), f"FastCGI process exited: {read_tail(log)}"
        if sock.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                if s.connect_ex(str(sock)) == 0:
                    return
        time.sleep(0.01)
    raise AssertionError(f"nothing listens on {sock}: {read_tail(log)}")


def read_tail(path, n=2000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- reading back

PROBE_RE = re.compile(rb'"probe":"([^"\\]{%d})"' % PROBE_WIDTH)
RID_RE = re.compile(rb'"request_id":"([0-9A-Z]{26})"')


@dataclass
class Line:
    offset: int
    rid: str | None
    probe: str | None
    payload_ok: bool | None = None
    length: int = 0  # without its newline


@dataclass
class Scan:
    """A JSON Lines file as Python's json reads it, line by line."""
    path: Path
    records: list[Line] = field(default_factory=list)
    fragments: list[Line] = field(default_factory=list)  # non-record lines, ended by a newline
    empty: int = 0  # empty lines
    tail: bytes = b""  # what follows the last newline
    size: int = 0

    def by_rid(self):
        found = {}
        for r in self.records:
            found.setdefault(r.rid, []).append(r)
        return found

    def by_probe(self):
        found = {}
        for r in self.records:
            found.setdefault(r.probe, []).append(r)
        return found


def scan(path: Path, expect) -> Scan:
    """Every line parsed with json. `expect(probe)` gives the payload a record
    with that probe must carry (None: unknown probe)."""
    result = Scan(path)
    if not path.exists():
        return result
    offset = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                result.tail = line
                break
            if line == b"\n":
                # What appends to a file the handler may write but not read
                # leave (LineAppender ends whatever came before): no record,
                # no fragment, and skipped silently by the product's reader.
                result.empty += 1
                offset += 1
                continue
            value = None
            try:
                value = json.loads(line)
            except ValueError:
                pass
            if isinstance(value, dict) and list(value) == RECORD_KEYS and isinstance(value["payload"], dict):
                probe = value["payload"].get("probe")
                wanted = expect(probe)
                result.records.append(Line(offset, value["request_id"], probe,
                                           None if wanted is None else value["payload"] == wanted))
            else:
                head = line[:1024]
                p, r = PROBE_RE.search(head), RID_RE.search(head)
                result.fragments.append(Line(offset, r and r.group(1).decode(), p and p.group(1).decode(),
                                             length=len(line) - 1))
            offset += len(line)
    result.size = offset + len(result.tail)
    return result


def torn_reports(stderr: str, path: Path):
    """(offset, length) of every torn line the appender reported for `path`."""
    pattern = re.escape(f"{path}: the last line was torn (") + r"(\d+) bytes at byte offset (\d+) with no newline"
    return [(int(o), int(n)) for n, o in re.findall(pattern, stderr)]


def check_torn_reports(sc: "Scan", stderrs):
    """Every torn line reported on stderr is a fragment of the file, at that
    offset and of that length, ended with a newline. Returns how many."""
    fragments = {(f.offset, f.length) for f in sc.fragments}
    reports = [r for text in stderrs for r in torn_reports(text, sc.path)]
    for r in reports:
        assert r in fragments, f"{sc.path}: a torn line reported at {r} is not a fragment there: {sorted(fragments)}"
    assert len(set(reports)) == len(reports), "a fragment was reported twice"
    return len(reports)


@dataclass
class Replay:
    returncode: int
    found: set
    missing: set
    skipped: int  # lines the product's reader reported as not records
    stdout: str
    stderr: str


def replay(site: DSite, ids, config: Path | None = None) -> Replay:
    """The product's reader: `chathooks replay --only command` (no event has a
    command action, so nothing runs; every id is only looked up)."""
    ids = sorted(set(ids))
    proc = subprocess.run([str(site.bin_dir / "chathooks"), "replay", "--config", str(config or site.config_path),
                           "--only", "command", *ids], cwd=site.root, capture_output=True, timeout=TIMEOUT * 2,
                          env={"PATH": "/usr/bin:/bin", "TZ": "JST-9"})
    out, err = proc.stdout.decode(), proc.stderr.decode()
    found = set(re.findall(r"^([0-9A-Z]{26}) chatdealer/chat-[a-z]+: 0 actions done$", out, re.M))
    missing = set(re.findall(r"^([0-9A-Z]{26}): not in ", out, re.M))
    return Replay(proc.returncode, found, missing, err.count("is not a journal record"), out, err)


def verify(site: DSite, sent: list[Sent], label: str, append=True):
    """The invariants, for any interleaving and any kill point:
    - both files end with a newline (the last request was a normal event);
    - every request that got a 200 has exactly one intact record in the journal
      (and one in the append file), carrying its own payload;
    - no request that was refused, or answered 500 journal_failed, has a record;
      a killed request has at most one; no record is of an unknown request;
    - no fragment (non-record line) names an acknowledged request;
    - the product's reader finds every acknowledged id, and skips exactly the
      lines Python found not to be records.
    Returns the two scans."""
    by_probe = {s.probe: s for s in sent}

    def expect(probe):
        s = by_probe.get(probe)
        return s.expect if s else None

    acked = {s.rid: s for s in sent if s.acknowledged}
    assert len(acked) == sum(1 for s in sent if s.acknowledged), "a request id was given twice"
    journaled = {s.rid: s for s in sent if s.rid}  # 200s and 500 action_failed
    files = [("journal", site.journal_path)] + ([("append file", site.append_path)] if append else [])
    scans = {}
    for name, path in files:
        sc = scan(path, expect)
        scans[name] = sc
        assert sc.tail == b"", f"{name} {path} ends in {len(sc.tail)} bytes without a newline"
        rids = sc.by_rid()
        probes = sc.by_probe()
        wanted = journaled if name == "journal" else acked
        for rid, s in wanted.items():
            lines = rids.get(rid, [])
            assert len(lines) == 1, f"{name}: {s.probe} ({rid}, {s.note}) has {len(lines)} intact lines"
            assert lines[0].probe == s.probe, f"{name}: {rid} carries {lines[0].probe}, not {s.probe}"
            assert lines[0].payload_ok, f"{name}: {rid} ({s.probe}) does not carry its payload"
        for probe, lines in probes.items():
            s = by_probe.get(probe)
            assert s is not None, f"{name}: a record of an unknown request {probe!r}"
            assert len(lines) == 1, f"{name}: {probe} has {len(lines)} records"
            if not s.rid:
                assert s.killed, f"{name}: {probe} has a record but got {s.outcome and s.outcome.status} {s.outcome and s.outcome.code} ({s.note})"
            else:
                assert lines[0].rid == s.rid
        for frag in sc.fragments:
            assert frag.rid not in journaled, f"{name}: the fragment at {frag.offset} is of acknowledged {frag.rid}"
            if frag.probe is not None:
                s = by_probe.get(frag.probe)
                assert s is not None and s.killed, f"{name}: a fragment at {frag.offset} of {frag.probe}, which was not killed"
        assert len(sc.fragments) <= sum(1 for s in sent if s.killed)
        # The product's reader reads the same file (the append file through a config naming it).
        config = None if name == "journal" else site.reader_config(path)
        r = replay(site, wanted, config)
        assert r.missing == set() and r.found == set(wanted) and r.returncode == 0, \
            f"{name}: the product's reader misses {sorted(r.missing)[:5]}: {r.stderr[-2000:]}"
        assert r.skipped == len(sc.fragments), (r.skipped, len(sc.fragments), r.stderr[-2000:])
        note(f"{label}: {name}: {len(sc.records)} records, {len(sc.fragments)} fragments (non-record lines), "
             f"{sc.size} bytes")
    if append:
        extra = set(scans["append file"].by_rid()) - set(scans["journal"].by_rid())
        assert not extra, f"append-file records with no journal record: {sorted(extra)[:5]}"
    return scans
