"""Starts real servers in front of the built handlers, from the files shipped in
nginx/ (templated only for paths, sockets and ports), on 127.0.0.1.

Used by the integration tests and by `make run`. Every process started here is
stopped by `stop()` (or leaving the `with` block), pass or fail.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Every receiver's executable (scripts/receivers.txt, which Package.swift and the
# Makefile read too); `chatdealer-chat-end` serves /hooks/chatdealer/chat-end.
HANDLERS = (REPO / "scripts" / "receivers.txt").read_text().split()
ROUTES = {h: "/hooks/" + h.replace("-", "/", 1) for h in HANDLERS}
SPALO_KINDS = ("dataset", "search", "send")


def sample_name(handler):
    """examples/samples/<name>.json for a handler: chat-start, dataset, send."""
    return handler.split("-", 1)[1]


def spalo_kind(handler):
    """`dataset` for spalo-dataset; None for Chat Dealer's handlers."""
    return handler[len("spalo-"):] if handler.startswith("spalo-") else None


def fill_placeholders(text, token, keys, secrets):
    """examples/chathooks.json5 with its placeholders replaced: Chat Dealer's
    token, and each SPALO webhook's key and secret (`keys`/`secrets` by kind)."""
    text = text.replace("change-me-to-a-long-random-token", token)
    for kind in SPALO_KINDS:
        text = (text.replace(f"change-me-to-the-{kind}-webhook-key", keys[kind])
                .replace(f"change-me-to-the-{kind}-client-secret", secrets[kind]))
    return text
START_TIMEOUT = 15  # seconds to wait for a server to listen
EVIDENCE_ENV = "CHATHOOKS_SECRETS_LOG_DIR"


def find(program):
    for d in (os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin", "/usr/local/sbin"]):
        p = Path(d) / program
        if d and p.is_file() and os.access(p, os.X_OK):
            return str(p)
    raise FileNotFoundError(f"{program} is not installed (make deps installs it)")


def service_user():
    """Servers refuse to (or should not) run CGI as root: use www-data then."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("www-data")
    except KeyError:
        return pwd.getpwnam("nobody")


def dist_tarball():
    """The newest bundle written by `make dist`."""
    found = sorted((REPO / "dist").glob("chathooks-*-linux-x86_64.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError("no dist/chathooks-*.tar.gz: run make dist first")
    return found[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, log):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {read_tail(log)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT}s: {read_tail(log)}")


def wait_for_path(path, proc, log):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {read_tail(log)}")
        if Path(path).exists():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not appear after {START_TIMEOUT}s: {read_tail(log)}")


def read_tail(path, n=2000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


class Site:
    """A deployment folder laid out as the README says: bin/, chathooks.json5, data/."""

    def __init__(self, root: Path, config_text: str, bin_dir: Path = None):
        self.root = Path(root)
        self.bin_dir = Path(bin_dir or os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
        self.user = service_user()
        for sub in ("bin", "data", "logs", "sock", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # Every folder on the way must be reachable by the service user.
        os.chmod(self.root, 0o755)
        # Every receiver, and the multi-call chathooks (the console, the routed FastCGI process).
        for h in HANDLERS + ["chathooks"]:
            shutil.copy2(self.bin_dir / h, self.root / "bin" / h)
        self.config_path = self.root / "chathooks.json5"
        self.config_path.write_text(config_text, encoding="utf-8")
        if self.user:
            for sub in ("data", "sock", "logs", "tmp"):
                os.chown(self.root / sub, self.user.pw_uid, self.user.pw_gid)

    @property
    def journal(self):
        return self.root / "data" / "journal.jsonl"

    def journal_lines(self):
        try:
            return self.journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []


class Stack:
    """Processes started for one test or demo; `stop()` ends them all."""

    def __init__(self, site: Site, port: int = None):
        self.site = site
        self.port = port or free_port()
        self.procs = []

    def spawn(self, argv, log_name, as_service_user=False, env=None):
        log = self.site.root / "logs" / log_name
        kw = {}
        if as_service_user and self.site.user:
            kw = dict(user=self.site.user.pw_uid, group=self.site.user.pw_gid, extra_groups=[])
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, env=env, **kw)
        self.procs.append(proc)
        return proc, log

    def url(self, handler):
        return f"http://127.0.0.1:{self.port}{ROUTES[handler]}"

    def journal_lines(self):
        return self.site.journal_lines()

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self.procs = []
        # The journal, spool and server logs, for the secrets check (a no-op outside the tests).
        keep_evidence(f"stack-{type(self).__name__}", self.site.root, ("data", "logs", "htdocs/chathooks/data"))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def nginx_main_conf(site, port, include, log_level="info", connections=256, access_log=True):
    """nginx's main config around a shipped `include`, for one worker on 127.0.0.1:port."""
    root = site.root
    user = f"user {site.user.pw_name};" if site.user else ""
    # `include fastcgi_params` is relative to the main config's folder.
    shutil.copy("/etc/nginx/fastcgi_params", root / "fastcgi_params")
    access = f"access_log {root}/logs/access.log;" if access_log else "access_log off;"
    (root / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {root}/logs/nginx.pid;
error_log {root}/logs/error.log {log_level};
events {{ worker_connections {connections}; }}
http {{
    {access}
    client_body_temp_path {root}/tmp/body;
    fastcgi_temp_path {root}/tmp/fastcgi;
    proxy_temp_path {root}/tmp/proxy;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {include};
    }}
}}
""")


def shipped(relative, site, **replacements):
    """A shipped config file with /opt/chathooks (and any other given text) replaced."""
    text = (REPO / relative).read_text().replace("/opt/chathooks", str(site.root))
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


class NginxFcgiwrap(Stack):
    """nginx + fcgiwrap (CGI), using nginx/chathooks-fcgiwrap.conf as shipped."""

    def start(self):
        root = self.site.root
        sock = root / "sock" / "fcgiwrap.sock"
        (root / "chathooks.conf").write_text(shipped("nginx/chathooks-fcgiwrap.conf", self.site, **{
            "unix:/run/fcgiwrap.socket": f"unix:{sock}"}))
        nginx_main_conf(self.site, self.port, root / "chathooks.conf")
        if sock.exists():
            sock.unlink()
        # -f: the handlers' stderr goes to nginx's error log, where users look.
        fcgi, log = self.spawn([find("fcgiwrap"), "-f", "-c", "2", "-s", f"unix:{sock}"], "fcgiwrap.log",
                               as_service_user=True)
        wait_for_path(sock, fcgi, log)
        start_nginx(self)
        return self

    def error_log(self):
        return read_tail(self.site.root / "logs" / "error.log", 100_000)


def start_nginx(stack):
    root = stack.site.root
    pid = root / "logs" / "nginx.pid"
    if pid.exists():
        pid.unlink()
    nginx, log = stack.spawn([find("nginx"), "-p", str(root), "-c", str(root / "nginx.conf"),
                              "-e", str(root / "logs" / "error.log")], "nginx.out")
    # nginx writes its pid file once it has bound its ports: only then is the
    # listener ours (another program could answer on a busy port).
    wait_for_path(root / "logs" / "nginx.pid", nginx, log)
    wait_for_port(stack.port, nginx, log)


class NginxSpawnFcgi(Stack):
    """nginx + spawn-fcgi: the executables as native FastCGI processes, using
    nginx/chathooks-fastcgi.conf (one routed `chathooks` process) or
    nginx/chathooks-fastcgi-per-event.conf (one process per receiver)."""

    def __init__(self, site: Site, per_event=False, port: int = None):
        super().__init__(site, port)
        self.per_event = per_event
        self.fastcgi = {}  # name -> the spawn-fcgi'd process's pid

    def start(self):
        root = self.site.root
        sockdir = root / "sock"
        conf = "nginx/chathooks-fastcgi-per-event.conf" if self.per_event else "nginx/chathooks-fastcgi.conf"
        (root / "chathooks.conf").write_text(shipped(conf, self.site, **{"unix:/run/chathooks/": f"unix:{sockdir}/"}))
        nginx_main_conf(self.site, self.port, root / "chathooks.conf")
        names = HANDLERS if self.per_event else ["chathooks"]
        if not self.per_event:
            shutil.copy2(self.site.bin_dir / "chathooks", root / "bin" / "chathooks")
        for name in names:
            self.spawn_fastcgi(name)
        start_nginx(self)
        return self

    def spawn_fastcgi(self, name):
        root = self.site.root
        sock = root / "sock" / f"{name}.sock"
        if sock.exists():
            sock.unlink()
        argv = [find("spawn-fcgi"), "-n", "-s", str(sock), "-M", "0660"]
        if self.site.user:
            argv += ["-u", self.site.user.pw_name, "-g", self.site.user.pw_name,
                     "-U", self.site.user.pw_name, "-G", self.site.user.pw_name]
        # -n: no fork; spawn-fcgi execs the executable itself, so the process
        # we started is the handler, and the one we stop.
        proc, log = self.spawn(argv + ["--", str(root / "bin" / name)], f"spawn-fcgi-{name}.log")
        wait_for_path(sock, proc, log)
        self.fastcgi[name] = proc

    def error_log(self):
        return read_tail(self.site.root / "logs" / "error.log", 100_000)


APACHE_MODULES = ["mpm_prefork", "authz_core", "authz_host", "mime", "cgi", "alias", "rewrite", "setenvif", "env", "dir"]


class Apache(Stack):
    """Apache httpd: as shared hosting (mod_cgi, the dist bundle with its
    .htaccess in a document folder), as your own server's CGI
    (apache/chathooks-cgi-vhost.conf) or with mod_fcgid
    (apache/chathooks-fcgid.conf), from the shipped files."""

    def __init__(self, site: Site, mode="htaccess", port: int = None):
        super().__init__(site, port)
        assert mode in ("htaccess", "vhost-cgi", "fcgid")
        self.mode = mode

    @property
    def folder(self):
        """The shared-hosting folder: public_html/chathooks."""
        return self.site.root / "htdocs" / "chathooks"

    def url(self, handler, short=False):
        route = ROUTES[handler][len("/hooks"):]
        if self.mode != "htaccess":
            return f"http://127.0.0.1:{self.port}/hooks{route}"
        if short:
            return f"http://127.0.0.1:{self.port}/chathooks/hooks{route}"
        return f"http://127.0.0.1:{self.port}/chathooks/chathooks.cgi{route}"

    def start(self):
        root = self.site.root
        modules = APACHE_MODULES + (["fcgid"] if self.mode == "fcgid" else [])
        loads = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in modules)
        user = f"User {self.site.user.pw_name}\nGroup {self.site.user.pw_name}" if self.site.user else ""
        (root / "htdocs").mkdir(exist_ok=True)
        extra = ""
        if self.mode == "htaccess":
            # The shared-hosting bundle from `make dist`, unpacked as a user
            # uploads it, with the test's config in place of the sample.
            with tarfile.open(dist_tarball()) as tar:
                tar.extractall(root / "htdocs", filter="tar")
            text = self.site.config_path.read_text(encoding="utf-8")
            (self.folder / "chathooks.json5").write_text(text, encoding="utf-8")
            if self.site.user:
                os.chown(self.folder / "data", self.site.user.pw_uid, self.site.user.pw_gid)
                os.chown(self.folder / "chathooks.json5", self.site.user.pw_uid, self.site.user.pw_gid)
        elif self.mode == "vhost-cgi":
            (root / "chathooks-cgi-vhost.conf").write_text(shipped("apache/chathooks-cgi-vhost.conf", self.site))
            extra = f"Include {root}/chathooks-cgi-vhost.conf"
        else:
            shutil.copy2(self.site.bin_dir / "chathooks", root / "bin" / "chathooks")
            (root / "fcgid").mkdir(exist_ok=True)
            if self.site.user:
                os.chown(root / "fcgid", self.site.user.pw_uid, self.site.user.pw_gid)
            (root / "chathooks-fcgid.conf").write_text(shipped("apache/chathooks-fcgid.conf", self.site))
            extra = f"""
FcgidIPCDir {root}/fcgid
FcgidProcessTableFile {root}/fcgid/shm
Include {root}/chathooks-fcgid.conf
"""
        (root / "httpd.conf").write_text(f"""
{loads}
ServerName localhost
ServerRoot {root}
TypesConfig /etc/mime.types
Listen 127.0.0.1:{self.port}
PidFile {root}/logs/httpd.pid
ErrorLog {root}/logs/error.log
LogLevel info
{user}
DocumentRoot {root}/htdocs
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {root}/htdocs>
    AllowOverride All
    Require all granted
</Directory>
{extra}
""")
        httpd, log = self.spawn([find("apache2"), "-f", str(root / "httpd.conf"), "-DFOREGROUND"], "httpd.out",
                                env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"})
        wait_for_port(self.port, httpd, log)
        return self

    @property
    def journal(self):
        if self.mode == "htaccess":
            return self.folder / "data" / "journal.jsonl"
        return self.site.journal

    def journal_lines(self):
        try:
            return self.journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    def error_log(self):
        return read_tail(self.site.root / "logs" / "error.log", 100_000)


# --- Evidence for the secrets check (Tests/zz_secrets) ------------------------------------------
# Every response, stderr and server log the tests see is recorded under one
# folder per pytest session, so that the last test can grep it all for every
# configured secret. Outside pytest (make run) nothing is recorded unless
# $CHATHOOKS_SECRETS_LOG_DIR is set.

_evidence_count = 0


def evidence_dir():
    """$CHATHOOKS_SECRETS_LOG_DIR, else (under pytest) a folder made once per
    session, $TMPDIR/chathooks-evidence-UID/PID, and put there (the folders of
    sessions that have ended are removed then); None when neither."""
    folder = os.environ.get(EVIDENCE_ENV)
    if not folder:
        if "pytest" not in sys.modules:
            return None
        parent = Path(tempfile.gettempdir()) / f"chathooks-evidence-{os.getuid()}"
        parent.mkdir(mode=0o700, exist_ok=True)
        for old in parent.iterdir():
            try:
                os.kill(int(old.name), 0)
            except (ValueError, ProcessLookupError):
                shutil.rmtree(old, ignore_errors=True)
            except PermissionError:
                pass
        folder = str(parent / str(os.getpid()))
        os.makedirs(folder, exist_ok=True)
        os.environ[EVIDENCE_ENV] = folder
    return Path(folder)


def _evidence_path(kind):
    global _evidence_count
    folder = evidence_dir()
    if folder is None:
        return None
    _evidence_count += 1
    path = folder / kind / f"{os.getpid()}-{_evidence_count:06d}"
    path.parent.mkdir(parents=True, exist_ok=True)
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    with open(folder / "index.tsv", "a", encoding="utf-8") as index:
        index.write(f"{os.getpid()}\t{kind}\t{path.relative_to(folder)}\t{test}\n")
    return path


def record_evidence(kind, data):
    """Keeps `data` (bytes or text: a response, a stderr) for the secrets check."""
    path = _evidence_path(kind)
    if path is not None:
        path.write_bytes(data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogateescape"))


SECRET_SOURCES = ("chathooks.json5", "*.txt", "secrets/*", "htdocs/chathooks/chathooks.json5", "htdocs/chathooks/secrets/*")


def keep_evidence(kind, folder, subfolders=("data", "logs")):
    """Copies the regular files under `folder`/<subfolder> (journals, spools,
    server logs) before a temporary folder is removed, and the config and
    secret files apart, under sources/ (never scanned: they name the secrets)."""
    target = _evidence_path(kind)
    if target is None:
        return
    for pattern in SECRET_SOURCES:
        for source in Path(folder).glob(pattern):
            if source.is_file() and not source.is_symlink() and source.stat().st_size < 1 << 20:
                dest = target / "sources" / source.relative_to(folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest)
    for sub in subfolders:
        base = Path(folder) / sub
        for dirpath, _, files in os.walk(base):
            for name in files:
                source = Path(dirpath) / name
                if source.is_file() and not source.is_symlink():
                    dest = target / source.relative_to(folder)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, dest)
    target.mkdir(parents=True, exist_ok=True)
