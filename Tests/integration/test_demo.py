"""`make run` (tools/demo.py, on the built executables) from a clone in a 0700
folder that www-data cannot enter: it serves; Ctrl-C stops every process it
started, with stdout open or with its reader gone (`make run | head -1`), and
frees the port; a second run right after the first (TIME-WAIT sockets on the
port) serves too. Every wait is bounded; every process is found by pid."""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from stack import REPO, evidence_dir, free_port  # noqa: E402
from webclient import post  # noqa: E402  (recorded for Tests/zz_secrets: conftest patches it)

BIN = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
TOKEN = "demo-token-0123456789abcdef"  # tools/demo.py's
SERVE_TIMEOUT = 30  # seconds for the demo to serve (it starts two servers and posts six samples)
STOP_TIMEOUT = 30  # seconds for it to stop them (its own limit is 10 s a server + 5 s a group)
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def clone():
    """The parts of the repository the demo uses, in a folder of mode 0700
    (root's own: www-data cannot enter it)."""
    tmp = Path(tempfile.mkdtemp(prefix="chathooks-demo-test-"))
    os.chmod(tmp, 0o700)
    repo = tmp / "clone"
    for part in ("tools", "examples", "nginx"):
        shutil.copytree(REPO / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "receivers.txt", repo / "scripts")
    started = []
    yield repo, started
    for demo in started:
        demo.kill()
    shutil.rmtree(tmp, ignore_errors=True)


# --- Processes, from /proc -----------------------------------------------------------------------

def processes():
    """pid -> dict(start, state, pgid, cmdline, cwd) for every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        table[int(entry)] = dict(state=fields[0].decode(), pgid=int(fields[2]), start=int(fields[19]),
                                 cmdline=cmdline, cwd=cwd)
    return table


def belonging_to(folders, exclude=()):
    """Processes whose cmdline names one of the folders or whose cwd is in
    one, and every process in their process groups: {pid: info}."""
    table = processes()
    folders = [str(f) for f in folders]
    mine = {pid for pid, p in table.items() if pid not in exclude and pid != os.getpid() and (
        any(f in p["cmdline"] for f in folders) or any(p["cwd"] == f or p["cwd"].startswith(f + "/") for f in folders))}
    groups = {table[pid]["pgid"] for pid in mine}
    return {pid: p for pid, p in table.items()
            if pid not in exclude and pid != os.getpid() and (pid in mine or p["pgid"] in groups)}


def still_there(recorded):
    """The recorded processes that still exist (the same pid and start time), zombies included."""
    now = processes()
    return {pid: now[pid] for pid, p in recorded.items() if pid in now and now[pid]["start"] == p["start"]}


def time_wait_on(port):
    """TIME-WAIT sockets whose local end is 127.0.0.1:port."""
    found = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, _, state = line.split()[1:4]
            if state == "06" and local == f"0100007F:{port:04X}":
                found += 1
    return found


def make_time_wait(port):
    """A TIME-WAIT socket on 127.0.0.1:port, the server side closing first (as nginx does)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            conn, _ = listener.accept()
            conn.close()
            client.settimeout(5)
            assert client.recv(1) == b""


def assert_port_free(port):
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx binds
        s.bind(("127.0.0.1", port))
        s.listen(1)


# --- The demo ------------------------------------------------------------------------------------

def default_stop_signals():
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


class Demo:
    """python3 tools/demo.py in the clone, stdout a pipe read here (bounded by select)."""

    def __init__(self, repo, started, port, env=None):
        extra = env or {}
        self.repo = repo
        self.port = port
        self.stderr_path = repo.parent / f"demo-stderr-{len(started)}"
        evidence_dir()  # sets $CHATHOOKS_SECRETS_LOG_DIR: the demo's journal and logs are kept for Tests/zz_secrets
        env = dict(os.environ, PORT=str(port), CHATHOOKS_BIN_DIR=str(BIN), PYTHONDONTWRITEBYTECODE="1", **extra)
        if "CHATHOOKS_RUN_DIR" not in extra:
            env.pop("CHATHOOKS_RUN_DIR", None)  # one from the caller's environment must not pick the folder
        with open(self.stderr_path, "wb") as err:
            # As from a terminal: the stop signals at their defaults. (A test
            # run started in the background by a non-interactive shell, as CI
            # may be, inherits SIGINT ignored, and the demo keeps an ignored
            # stop signal ignored, as `nohup make run &` wants.)
            self.proc = subprocess.Popen([sys.executable, "tools/demo.py"], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                                         preexec_fn=default_stop_signals)
        started.append(self)
        self.out = b""
        self.servers = {}

    @property
    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def read(self, until=None, timeout=SERVE_TIMEOUT):
        """Reads stdout until `until` (a regex) matches or, without one, to the end."""
        deadline = time.monotonic() + timeout
        while True:
            if until and (m := re.search(until, self.out.decode(errors="replace"))):
                return m
            left = deadline - time.monotonic()
            assert left > 0, f"demo: no {until or 'end of output'} after {timeout}s:\n{self.text}\n{self.stderr}"
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    assert not until, f"demo ended without {until}:\n{self.text}\n{self.stderr}"
                    return None
                self.out += chunk

    @property
    def text(self):
        return self.out.decode(errors="replace")

    def serving(self):
        """Waits until it serves; the run folder, and its servers recorded by pid."""
        self.read(r"serving until Ctrl-C")
        root = Path(re.search(r"\(config: (\S+)/chathooks\.json5\)", self.text).group(1))
        self.record(root)
        return root

    def record(self, root):
        self.root = root
        self.servers = belonging_to([self.repo.parent, root], exclude={self.proc.pid})
        names = " | ".join(p["cmdline"] for p in self.servers.values())
        assert "nginx: master" in names and "nginx: worker" in names and "fcgiwrap" in names, names
        nginx_pid = int((root / "logs" / "nginx.pid").read_text())
        assert nginx_pid in self.servers, (nginx_pid, names)

    def post_one(self):
        body = json.loads((self.repo / "examples" / "samples" / "chat-start.json").read_text(encoding="utf-8"))
        r = post(f"http://127.0.0.1:{self.port}/hooks/chatdealer/chat-start", body,
                 {"Content-Type": "application/json", "X-Chathooks-Token": TOKEN})
        assert r.status == 200, r.body
        return r.json["id"]

    def interrupt(self):
        """SIGINT (Ctrl-C), then: it exits 0, every server it started is gone,
        the port is free and a temporary run folder is removed."""
        os.kill(self.proc.pid, signal.SIGINT)
        if not self.proc.stdout.closed:
            self.read(timeout=STOP_TIMEOUT)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"demo still running {STOP_TIMEOUT}s after SIGINT:\n{self.text}\n{self.stderr}")
        assert code == 0, (code, self.text[-2000:], self.stderr)
        assert "Traceback" not in self.stderr, self.stderr
        assert not still_there(self.servers), (still_there(self.servers), self.stderr)
        assert not belonging_to([self.repo.parent, self.root]), belonging_to([self.repo.parent, self.root])
        assert_port_free(self.port)
        if AS_ROOT:
            assert not self.root.parent.exists(), f"{self.root.parent} was left behind"

    def kill(self):
        """Teardown, pass or fail: the demo (SIGINT, then SIGKILL) and then any
        server it left, by pid."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        root = getattr(self, "root", None)
        left = still_there(self.servers)
        left.update(belonging_to([self.repo.parent] + ([root] if root else [])))
        for pid, p in left.items():
            if p["state"] != "Z":
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if root is not None and root.parent.name.startswith("chathooks-run-"):
            shutil.rmtree(root.parent, ignore_errors=True)

    def journal(self):
        try:
            return (self.repo / "run" / "data" / "journal.jsonl").read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""


def assert_moved_out(demo, root):
    """As root, ./run/ in the 0700 clone is out of www-data's reach: the run
    folder is elsewhere, and the demo says why, naming the folder and the user."""
    if AS_ROOT:
        assert not str(root).startswith(str(demo.repo.parent) + "/"), root
        assert f"www-data cannot enter {demo.repo.parent} (drwx------ root:root)" in demo.text, demo.text[:1000]
        assert (root.parent.stat().st_mode & 0o777) == 0o750


# --- The tests -----------------------------------------------------------------------------------

def test_serves_from_a_folder_www_data_cannot_enter_and_ctrl_c_stops_everything(clone):
    repo, started = clone
    demo = Demo(repo, started, free_port())
    root = demo.serving()
    assert_moved_out(demo, root)
    request_id = demo.post_one()
    demo.interrupt()
    assert "stopping nginx and fcgiwrap" in demo.text
    # The journal is copied back to ./run/ (the temporary folder is gone).
    assert request_id in demo.journal()


def test_ctrl_c_with_the_reader_of_stdout_gone(clone):
    """`make run | head -1`: the reader exits after the first line, while the
    demo is still starting, so every later write fails (EPIPE)."""
    repo, started = clone
    demo = Demo(repo, started, free_port())
    demo.read(r"\n")
    demo.proc.stdout.close()
    # Its run folder and servers, found from the processes whose cwd is in the clone.
    deadline = time.monotonic() + SERVE_TIMEOUT
    root = None
    while time.monotonic() < deadline:
        assert demo.proc.poll() is None, demo.stderr
        masters = [p["cmdline"] for p in belonging_to([repo.parent], exclude={demo.proc.pid}).values()
                   if "nginx: master" in p["cmdline"]]
        if masters:
            root = Path(re.search(r" -p (\S+)", masters[0]).group(1))
            journal = root / "data" / "journal.jsonl"
            if journal.exists() and len(journal.read_text(encoding="utf-8").splitlines()) >= 6:
                break  # the six samples are in: it serves
        time.sleep(0.05)
    else:
        pytest.fail(f"the demo did not serve within {SERVE_TIMEOUT}s: {demo.stderr}")
    demo.record(root)
    assert_moved_out(demo, root)
    request_id = demo.post_one()
    demo.interrupt()
    assert request_id in demo.journal()


def test_two_runs_in_a_row_on_one_port(clone):
    repo, started = clone
    port = free_port()
    first = Demo(repo, started, port)
    first.serving()
    first_id = first.post_one()
    first.interrupt()
    # The port has TIME-WAIT sockets now (nginx closes its side first); make
    # sure of one, so that this test always asks the probe to see past them.
    if not time_wait_on(port):
        make_time_wait(port)
    assert time_wait_on(port)
    second = Demo(repo, started, port)
    second.serving()
    second_id = second.post_one()
    second.interrupt()
    journal = second.journal()
    assert first_id in journal and second_id in journal  # ./run/data carried over from one run to the next


def test_a_port_in_use_is_refused_and_named(clone):
    repo, started = clone
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        demo = Demo(repo, started, port)
        assert demo.proc.wait(timeout=STOP_TIMEOUT) == 1
    assert f"nginx could not listen on 127.0.0.1:{port}" in demo.stderr, demo.stderr


@pytest.mark.skipif(not AS_ROOT, reason="the servers run as www-data only when run as root")
def test_an_unreachable_run_folder_is_refused_naming_the_path_and_the_user(clone):
    repo, started = clone
    chosen = repo / "elsewhere" / "run"
    demo = Demo(repo, started, free_port(), env={"CHATHOOKS_RUN_DIR": str(chosen)})
    assert demo.proc.wait(timeout=STOP_TIMEOUT) == 1
    assert f"www-data cannot enter {repo.parent} (drwx------ root:root), so it cannot reach {chosen}" in demo.stderr, demo.stderr
    assert "CHATHOOKS_RUN_DIR" in demo.stderr
    assert not belonging_to([repo.parent], exclude={demo.proc.pid})
