"""`make run`: serve the receivers on 127.0.0.1:$PORT through nginx + fcgiwrap,
on a demo config under ./run/, post one sample of each event, print the journal
and a curl line per endpoint, then serve until Ctrl-C.

Run as root, the servers run as www-data. When www-data cannot reach ./run/ (a
clone under /root, a home folder or any folder of mode 700/750 on the way),
the run folder is made under /tmp instead (`chathooks-run-*`, root:www-data
0750), with ./run/data and ./run/logs copied in; at the end they are copied
back to ./run/ and that folder is removed. CHATHOOKS_RUN_DIR=<folder> picks the
run folder yourself (kept at the end).

Whatever ends it (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT, a failure, with stdout
open or closed as in `make run | tee log` or `| head -1`), every server it
started is stopped, by process group and then by pid, before it exits; the
port probe binds with SO_REUSEADDR, as nginx does, so the TIME-WAIT sockets
of the last run do not count. (A stop signal ignored when it starts, as under
nohup, stays ignored. SIGKILL cannot be caught: its servers are left.)

Runnable without make, on built executables: CHATHOOKS_BIN_DIR (default
.build/release) and PORT (default 8080)."""
import atexit
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bcrypt  # noqa: E402

from reach import unreachable  # noqa: E402
import stack as stacklib  # noqa: E402
from stack import HANDLERS, REPO, NginxFcgiwrap, Site, service_user  # noqa: E402
from webclient import post  # noqa: E402

TOKEN = "demo-token-0123456789abcdef"
# One key and client secret per SPALO webhook of the example config.
DATASET_WEBHOOK_KEY = "D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0DA7A"
SEARCH_WEBHOOK_KEY = "D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M05EAC"
SEND_WEBHOOK_KEY = "D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M05E9D"
DATASET_CLIENT_SECRET = "demo-dataset-client-secret"
SEARCH_CLIENT_SECRET = "demo-search-client-secret"
SEND_CLIENT_SECRET = "demo-send-client-secret"
# The web console's password (the demo serves on 127.0.0.1 only).
CONSOLE_PASSWORD = "demo-console-password"
WEBHOOK_KEYS = {"dataset": DATASET_WEBHOOK_KEY, "search": SEARCH_WEBHOOK_KEY, "send": SEND_WEBHOOK_KEY}
CLIENT_SECRETS = {"dataset": DATASET_CLIENT_SECRET, "search": SEARCH_CLIENT_SECRET, "send": SEND_CLIENT_SECRET}
RUN_DIR_ENV = "CHATHOOKS_RUN_DIR"
TEMP_BASES = ("/tmp", "/var/tmp")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
GROUP_GRACE = 5  # seconds a stopped server's process group gets before SIGKILL


def demo_config():
    text = (REPO / "examples" / "chathooks.json5").read_text(encoding="utf-8")
    text = stacklib.fill_placeholders(text, TOKEN, WEBHOOK_KEYS, CLIENT_SECRETS)
    # The example's console line, turned on with the demo's password.
    line = '  // admin: { passwordHash: "$2b$12$...", idleHours: 8 },'
    assert line in text, "examples/chathooks.json5 no longer has the admin line the demo turns on"
    console_hash = bcrypt.hashpw(CONSOLE_PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    return text.replace(line, f'  admin: {{ passwordHash: "{console_hash}" }},')


def sample(handler):
    return json.loads((REPO / "examples" / "samples" / f"{stacklib.sample_name(handler)}.json").read_text(encoding="utf-8"))


def port_problem(port):
    """None when nginx could listen on 127.0.0.1:port. SO_REUSEADDR as nginx
    sets it: the TIME-WAIT sockets of the last run do not count, a listener does."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return None
        except OSError as e:
            return e


# --- Output that never stops the cleanup ---------------------------------------------------------

_stdout_open = True


def say(text=""):
    """print + flush (so `| tee` shows it as it comes). Once stdout is gone (the
    reader of a pipe has exited), it is pointed at /dev/null and nothing is
    printed any more: a write can never raise on the way out."""
    global _stdout_open
    if not _stdout_open:
        return
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        _stdout_open = False
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass


def warn(text):
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# --- Signals: stop, but never between starting a server and noting it ----------------------------

class Interrupted(BaseException):
    """Raised by a stop signal (not an Exception: no `except Exception` keeps it)."""


_signals = {"defer": 0, "pending": None, "stopping": False}


def _on_signal(signum, _frame):
    if _signals["stopping"]:
        return
    if _signals["defer"]:
        _signals["pending"] = signum
        return
    raise Interrupted(signum)


@contextmanager
def signals_deferred():
    """A stop signal that arrives in this block is raised when it ends."""
    _signals["defer"] += 1
    try:
        yield
    finally:
        _signals["defer"] -= 1
        if not _signals["defer"] and _signals["pending"] is not None and not _signals["stopping"]:
            signum, _signals["pending"] = _signals["pending"], None
            raise Interrupted(signum)


def group_members(groups):
    """The live (not zombie) processes in these process groups, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z" and int(fields[2]) in groups:
            found.append(int(entry))
    return found


class DemoStack(NginxFcgiwrap):
    """nginx + fcgiwrap, each server's process group noted as it starts."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.groups = set()

    def spawn(self, *args, **kw):
        with signals_deferred():
            proc, log = super().spawn(*args, **kw)
            self.groups.add(proc.pid)  # start_new_session: its pid is its group
        return proc, log

    def stop_all(self):
        """stop(), then whatever is left in the servers' groups (a worker, a CGI
        child) gets GROUP_GRACE seconds and then SIGKILL, by pid."""
        try:
            self.stop()
        except BaseException as e:  # noqa: BLE001 (the groups are stopped below anyway)
            warn(f"make run: stopping the servers: {e!r}")
            for pgid in self.groups:
                try:
                    os.killpg(pgid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + GROUP_GRACE
        while group_members(self.groups) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in group_members(self.groups):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 1
        while group_members(self.groups) and time.monotonic() < deadline:
            time.sleep(0.05)
        reap_orphans()


def become_subreaper():
    """Orphans of the servers (fcgiwrap's children when it exits first) become
    our children, so that reap_orphans() can wait for them, even where PID 1
    does not (a container's init)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --- The run folder -------------------------------------------------------------------------------

def site_checks(root):
    """What the service user must be able to do for the demo to serve."""
    return ([(str(root / "bin" / h), os.X_OK) for h in HANDLERS]
            + [(str(root / "chathooks.json5"), os.R_OK)]
            + [(str(root / sub), os.W_OK | os.X_OK) for sub in ("data", "sock", "tmp")])


def copy_tree(source, target, owner=None):
    """Copies a folder (files, modes and, as root, owners); `owner` (a pwd
    entry) instead of the source's."""
    shutil.copytree(source, target, symlinks=True)
    if os.geteuid() != 0:
        return
    for dirpath, dirs, files in os.walk(target):
        for name in [""] + dirs + files:
            path = os.path.join(dirpath, name) if name else dirpath
            if owner:
                os.lchown(path, owner.pw_uid, owner.pw_gid)
            else:
                st = os.lstat(os.path.join(source, os.path.relpath(path, target)))
                os.lchown(path, st.st_uid, st.st_gid)


class RunFolder:
    """Where the servers' files go: ./run/ when the service user can reach it,
    else a folder made under /tmp (or $CHATHOOKS_RUN_DIR)."""

    KEPT = ("data", "logs")  # what a temporary run folder copies from and back to ./run/

    def __init__(self, repo_run, user):
        self.repo_run = repo_run
        self.user = user
        self.made = None  # the temporary folder, removed by close()
        self.filled = False  # ./run/data and logs copied into it: close() copies them back
        self.lock = None
        self.root = None
        self.site = None
        self.why_not_repo = None

    def open(self, config_text):
        """Sets up the site in the first folder that works, or raises SystemExit saying why none did."""
        refused = []
        chosen = os.environ.get(RUN_DIR_ENV)
        if chosen:
            candidates = [(Path(chosen).resolve(), False)]
        else:
            candidates = [(self.repo_run, False)] + [(Path(b), True) for b in TEMP_BASES if os.path.isdir(b)]
        for candidate, temporary in candidates:
            if temporary:
                problem = unreachable([(str(candidate), os.X_OK)], self.user)
                if problem:
                    refused.append(problem)
                    continue
                with signals_deferred():
                    self.made = Path(tempfile.mkdtemp(prefix="chathooks-run-", dir=candidate))
                if self.user:
                    os.chown(self.made, os.geteuid(), self.user.pw_gid)
                    os.chmod(self.made, 0o750)
                root = self.made / "run"
                root.mkdir()
                for sub in self.KEPT:
                    if (self.repo_run / sub).is_dir():
                        copy_tree(self.repo_run / sub, root / sub, owner=self.user if sub == "data" else None)
                self.filled = True  # (not before: a copy cut short must not be copied back over ./run/)
            else:
                root = candidate
                root.mkdir(parents=True, exist_ok=True)
                if root != self.repo_run:  # $CHATHOOKS_RUN_DIR: one `make run` at a time there too
                    self.lock = open(root / ".lock", "w")
                    try:
                        fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise SystemExit(f"make run: another `make run` is using {root} already; stop it first")
                problem = unreachable([(str(root), os.X_OK)], self.user)
                if problem:
                    refused.append(problem)
                    if root == self.repo_run:
                        self.why_not_repo = problem
                    continue
            site = Site(root, config_text)
            problem = unreachable(site_checks(root), self.user)
            if not problem:
                self.root, self.site = root, site
                return site
            refused.append(problem)
            if root == self.repo_run:
                self.why_not_repo = problem
            if self.made:
                shutil.rmtree(self.made, ignore_errors=True)
                self.made, self.filled = None, False
        where = f"${RUN_DIR_ENV}" if chosen else "neither ./run/ nor a folder under " + " or ".join(TEMP_BASES)
        raise SystemExit("make run: the servers cannot use a run folder (" + where + "):\n  " + "\n  ".join(refused)
                         + f"\nmake every folder on the way enterable by that user (chmod o+x, or g+x with its group),"
                         f" or set {RUN_DIR_ENV} to a folder it can reach")

    def close(self):
        """A temporary folder: data/ and logs/ copied back to ./run/, then removed."""
        if not self.made:
            return
        if not self.filled:
            shutil.rmtree(self.made, ignore_errors=True)
            self.made = None
            return
        try:
            for sub in self.KEPT:
                source = self.made / "run" / sub
                if not source.is_dir():
                    continue
                new, old = self.repo_run / f".{sub}.new", self.repo_run / f".{sub}.old"
                for leftover in (new, old):
                    shutil.rmtree(leftover, ignore_errors=True)
                copy_tree(source, new)
                if (self.repo_run / sub).exists():
                    os.rename(self.repo_run / sub, old)
                os.rename(new, self.repo_run / sub)
                shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            warn(f"make run: could not copy {self.made}/run/data and logs back to {self.repo_run}/ ({e});"
                 f" {self.made} is left as it is")
            self.made = None
            return
        shutil.rmtree(self.made, ignore_errors=True)
        say(f"the journal and logs are in {self.repo_run}/ ({self.made} removed)")
        self.made = None


# --- make run ------------------------------------------------------------------------------------

def main():
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a closed stdout is an EPIPE for say(), not a death
    for s in STOP_SIGNALS:
        # A signal ignored from the start stays ignored: `nohup make run &`
        # survives its terminal, a background job of a script its Ctrl-C.
        if signal.getsignal(s) != signal.SIG_IGN:
            signal.signal(s, _on_signal)
    become_subreaper()
    port = int(os.environ.get("PORT", "8080"))
    repo_run = REPO / "run"
    repo_run.mkdir(exist_ok=True)
    # One `make run` at a time: a second would take over ./run/ (its socket,
    # its nginx.conf) from under the first.
    lock = open(repo_run / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("make run: another `make run` is using ./run/ already; stop it first (Ctrl-C)")
    busy = port_problem(port)
    if busy:
        why = "another program listens there" if busy.errno == errno.EADDRINUSE else busy.strerror
        sys.exit(f"make run: nginx could not listen on 127.0.0.1:{port} ({why}); try PORT=9090 make run")
    folder = RunFolder(repo_run, service_user())
    stack = None
    done = []

    def cleanup():
        if done:
            return
        done.append(True)
        _signals["stopping"] = True  # from here on, a stop signal changes nothing
        if stack is not None:
            say("\nstopping nginx and fcgiwrap …")
            stack.stop_all()
        folder.close()

    atexit.register(cleanup)
    try:
        try:
            site = folder.open(demo_config())
        except OSError as e:
            sys.exit(f"make run: could not set up the run folder: {e}")
        if folder.made:
            say(f"./run/ is out of reach: {folder.why_not_repo};\nthe servers' files are in {folder.root}"
                f" while it serves (removed at the end, the journal and logs copied back to ./run/;"
                f" {RUN_DIR_ENV}=<folder> picks another)\n")
        stack = DemoStack(site, port)
        try:
            stack.start()
        except Exception as e:  # noqa: BLE001
            sys.exit(f"make run: could not start the servers: {e}")
        serve(site, stack, folder)
        while True:
            signal.pause()
    except Interrupted:
        pass
    finally:
        cleanup()


def serve(site, stack, folder):
    root = site.root
    say(f"nginx + fcgiwrap serve the receivers on http://127.0.0.1:{stack.port} (config: {site.config_path})\n")
    say("posting one sample of each event:")
    before = len(site.journal_lines())
    failures = 0
    for h in HANDLERS:
        body = sample(h)
        headers = {"Content-Type": "application/json"}
        if kind := stacklib.spalo_kind(h):
            body["webhookKey"] = WEBHOOK_KEYS[kind]
            body["secretHash"] = bcrypt.hashpw(CLIENT_SECRETS[kind].encode(), bcrypt.gensalt(rounds=10, prefix=b"2a")).decode()
        else:
            headers["X-Chathooks-Token"] = TOKEN
        r = post(stack.url(h), body, headers)
        failures += r.status != 200
        say(f"  {r.status} {stack.url(h)}  {r.body.decode(errors='replace').strip()}")
    if failures:
        if folder.made:
            sys.exit(f"make run: {failures} sample(s) were not accepted; see {folder.repo_run}/logs/error.log")
        sys.exit(f"make run: {failures} sample(s) were not accepted; see {root}/logs/error.log")
    say(f"\njournal ({site.journal}), the lines just added:")
    for line in site.journal_lines()[before:]:
        say("  " + line)
    say("\ntry it yourself (from this folder; -i shows the status):")
    for h in HANDLERS:
        if stacklib.spalo_kind(h):
            continue
        say(f"  curl -sS -i -H 'X-Chathooks-Token: {TOKEN}' -H 'Content-Type: application/json' "
            f"--data-binary @examples/samples/{stacklib.sample_name(h)}.json {stack.url(h)}")
    say("  # SPALO's webhooks want their own webhookKey and a fresh bcrypt secretHash of their client secret, e.g. dataset:")
    say(f"  python3 -c \"import bcrypt,json; d=json.load(open('examples/samples/dataset.json')); d['webhookKey']='{WEBHOOK_KEYS['dataset']}'; "
        f"d['secretHash']=bcrypt.hashpw(b'{CLIENT_SECRETS['dataset']}', bcrypt.gensalt(4)).decode(); print(json.dumps(d))\" "
        f"| curl -sS -i -H 'Content-Type: application/json' --data-binary @- {stack.url('spalo-dataset')}")
    say(f"\nthe web console (管理画面): http://127.0.0.1:{stack.port}/hooks/admin/  password: {CONSOLE_PASSWORD}")
    say(f"\nlogs: {root}/logs/error.log — serving until Ctrl-C")


if __name__ == "__main__":
    main()
