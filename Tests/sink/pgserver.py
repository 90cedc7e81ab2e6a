"""A real, private PostgreSQL server for the sink's tests (issue 14), started by the tests.

    with PostgresServer() as pg:
        pg.psql("SELECT 1")                  # as the superuser, over the unix socket
        pg.conninfo("tcp")                   # for the sink: role `chathooks`, its password
        pg.restart()                         # same port, same socket, same data

Debian's server binaries (package postgresql: /usr/lib/postgresql/<major>/bin) run a
throw-away cluster in a temporary folder under /tmp: initdb, then `postgres` itself (no
pg_ctl, no wrapper: the process started is the postmaster, stopped by its pid). The
tests run as root, which PostgreSQL refuses: the cluster belongs to the `postgres`
system user (the package creates it), or `nobody`; when not root, to the current user.

What it listens on: a unix socket in its own folder (<tmp>/sock) and 127.0.0.1 on a
free port (the same for both, and kept across restart()). fsync off: nothing here has
to survive a crash of the machine.

Who can log in (pg_hba.conf):
- the superuser (SUPERUSER) over the unix socket without a password (psql's default);
- the role ROLE, owner of the database DATABASE, with its password (scram-sha-256),
  over the unix socket and over TCP: the sink's way in. The password is new for each
  server (`password`), handed to psql through PGPASSWORD, never on a command line.

A plain module (no pytest in it): nothing here depends on the test runner.
"""
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "postgres"
ROLE = "chathooks"
DATABASE = "chathooks"

START_TIMEOUT = 30.0   # seconds until the server accepts connections
STOP_TIMEOUT = 30.0    # seconds for a fast shutdown before SIGKILL
COMMAND_TIMEOUT = 120.0  # initdb, psql


class PostgresError(RuntimeError):
    pass


def find_bindir():
    """Debian's newest /usr/lib/postgresql/<major>/bin that has initdb and postgres
    ($CHATHOOKS_PG_BINDIR first, when set)."""
    candidates = []
    if os.environ.get("CHATHOOKS_PG_BINDIR"):
        candidates.append(Path(os.environ["CHATHOOKS_PG_BINDIR"]))

    def major(path):
        m = re.search(r"/postgresql/(\d+)(?:\.(\d+))?/bin/", path)
        return (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major, reverse=True)
    candidates += [Path(p).parent for p in found]
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "postgres", "psql", "pg_isready")):
            return bindir
    raise PostgresError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, postgres, psql, "
                        "pg_isready): apt-get install postgresql")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _owner():
    """(uid, gid, name) of the user the cluster runs as."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_uid, entry.pw_gid, entry.pw_name
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid, name
    raise PostgresError("running as root, and there is neither a `postgres` nor a `nobody` user to run PostgreSQL as")


def _children_of(pid):
    """Pids whose parent is `pid` (the postmaster's backends and helpers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


class PostgresServer:
    def __init__(self, bindir=None, port=None):
        self.bindir = Path(bindir) if bindir else find_bindir()
        self.uid, self.gid, self.user = _owner()
        self.port = port
        self.password = secrets.token_hex(16)
        self.base = None       # the temporary folder: data/, sock/, postgres.log
        self.process = None    # the postmaster (subprocess.Popen)
        self._initialized = False

    # Paths -------------------------------------------------------------------------------

    @property
    def datadir(self):
        return self.base / "data"

    @property
    def socket_dir(self):
        return self.base / "sock"

    @property
    def log_path(self):
        return self.base / "postgres.log"

    @property
    def pid(self):
        """The postmaster's pid while it runs, else None."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    # Running things as the cluster's owner -----------------------------------------------

    def _env(self, password=None):
        env = {"PATH": f"{self.bindir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C",
               "HOME": str(self.base), "PGCONNECT_TIMEOUT": "10"}
        if password is not None:
            env["PGPASSWORD"] = password
        return env

    def _as_owner(self):
        if os.geteuid() == 0:
            return {"user": self.uid, "group": self.gid, "extra_groups": []}
        return {}

    def _run(self, argv, password=None, timeout=COMMAND_TIMEOUT, check=True):
        try:
            done = subprocess.run(argv, cwd=self.base, env=self._env(password), stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=timeout, **self._as_owner())
        except subprocess.TimeoutExpired as e:
            raise PostgresError(f"{argv[0]} did not finish within {timeout} s") from e
        if check and done.returncode != 0:
            raise PostgresError(f"{Path(argv[0]).name} exited {done.returncode}: "
                                f"{done.stderr.decode(errors='replace').strip()}")
        return done

    # Life cycle ---------------------------------------------------------------------------

    def start(self):
        """Creates the cluster (the first time), starts the postmaster and waits until it
        accepts connections. Returns self."""
        if self.pid is not None:
            return self
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="chathooks-pg-", dir="/tmp"))
            os.chmod(self.base, 0o755)
            os.chown(self.base, self.uid, self.gid)
            self.socket_dir.mkdir(mode=0o755)
            os.chown(self.socket_dir, self.uid, self.gid)
        if not self._initialized:
            self._initdb()
        tries = 1 if self.port is not None else 3
        for attempt in range(tries):
            if self.port is None or attempt > 0:
                self.port = free_port()
            try:
                self._start_postmaster()
                break
            except PostgresError:
                # Someone else took the port between free_port() and the bind: another one.
                if attempt + 1 == tries or "could not bind" not in self._log_tail():
                    raise
        if not self._initialized:
            self._create_role_and_database()
            self._initialized = True
        return self

    def _initdb(self):
        self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
                   "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"])
        # Replaces initdb's trust-everyone file: only the superuser without a password,
        # and only over the socket; everyone else with a password.
        (self.datadir / "pg_hba.conf").write_text(
            "# TYPE  DATABASE  USER       ADDRESS       METHOD\n"
            f"local   all       {SUPERUSER:<10} trust\n"
            "local   all       all                      scram-sha-256\n"
            "host    all       all        127.0.0.1/32  scram-sha-256\n")

    def _start_postmaster(self):
        argv = [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.socket_dir}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=30", "-c", "shared_buffers=16MB",
                "-c", "logging_collector=off", "-c", "log_min_messages=warning"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, cwd=self.base, env=self._env(), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            **self._as_owner())
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise PostgresError(f"postgres exited {code} while starting: {self._log_tail()}")
            ready = subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", str(self.socket_dir),
                                    "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres", "-t", "2"],
                                   env=self._env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresError(f"postgres did not accept connections within {START_TIMEOUT} s: "
                                    f"{self._log_tail()}")
            time.sleep(0.1)

    def _create_role_and_database(self):
        # The password is hex: nothing in it needs quoting in SQL or in a conninfo.
        self.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def stop(self, timeout=STOP_TIMEOUT):
        """Fast shutdown (SIGINT: clients are disconnected, the server checkpoints and
        exits); SIGKILL, to the postmaster and each of its children, after `timeout`."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                children = _children_of(process.pid)
                process.kill()
                for child in children:
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                process.wait(timeout=10)

    def restart(self):
        """Stops and starts again: same data, port and socket (the sink's conninfo stays good)."""
        self.stop()
        return self.start()

    def close(self):
        """Stops the server and removes its folder."""
        try:
            self.stop()
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None
                self._initialized = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # Using it -----------------------------------------------------------------------------

    def conninfo(self, via="unix", user=ROLE, dbname=DATABASE, password=True):
        """A libpq connection string: via="unix" (the socket folder) or "tcp" (127.0.0.1);
        with the role's password unless password=False or user is the superuser."""
        if via not in ("unix", "tcp"):
            raise ValueError(f"via must be 'unix' or 'tcp', not {via!r}")
        host = str(self.socket_dir) if via == "unix" else "127.0.0.1"
        parts = [f"host={host}", f"port={self.port}", f"dbname={dbname}", f"user={user}"]
        if password and user == ROLE:
            parts.append(f"password={self.password}")
        return " ".join(parts)

    def psql(self, sql, via="unix", user=SUPERUSER, dbname=DATABASE, check=True):
        """Runs `sql` with psql as the cluster's owner; returns psql's stdout (unaligned,
        tuples only). The superuser connects over the socket without a password; ROLE
        with its password (PGPASSWORD), over either."""
        if not self._initialized and dbname == DATABASE:
            dbname = "postgres"  # before the database exists
        argv = [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-d", self.conninfo(via, user=user, dbname=dbname, password=False), "-c", sql]
        done = self._run(argv, password=self.password if user == ROLE else None, check=check)
        return done.stdout.decode("utf-8", "replace")

    def _log_tail(self, limit=2000):
        try:
            return self.log_path.read_text(errors="replace")[-limit:].strip()
        except (OSError, TypeError):
            return ""
