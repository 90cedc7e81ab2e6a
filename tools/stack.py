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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HANDLERS = ["chatdealer-chat-start", "chatdealer-chat-message", "chatdealer-chat-end",
            "chatdealer-scenario", "chatdealer-form", "spalo-dataset"]
ROUTES = {h: "/hooks/" + ("spalo/dataset" if h == "spalo-dataset" else "chatdealer/" + h[len("chatdealer-"):])
          for h in HANDLERS}
START_TIMEOUT = 15  # seconds to wait for a server to listen


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
        for h in HANDLERS:
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


class NginxFcgiwrap:
    """nginx + fcgiwrap, using nginx/chathooks-fcgiwrap.conf as shipped."""

    def __init__(self, site: Site, port: int = None):
        self.site = site
        self.port = port or free_port()
        self.procs = []

    def render(self):
        root = self.site.root
        snippet = (REPO / "nginx" / "chathooks-fcgiwrap.conf").read_text()
        snippet = snippet.replace("/opt/chathooks", str(root))
        snippet = snippet.replace("unix:/run/fcgiwrap.socket", f"unix:{root}/sock/fcgiwrap.sock")
        (root / "chathooks-fcgiwrap.conf").write_text(snippet)
        # `include fastcgi_params` is relative to the main config's folder.
        shutil.copy("/etc/nginx/fastcgi_params", root / "fastcgi_params")
        user = f"user {self.site.user.pw_name};" if self.site.user else ""
        (root / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {root}/logs/nginx.pid;
error_log {root}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/logs/access.log;
    client_body_temp_path {root}/tmp/body;
    fastcgi_temp_path {root}/tmp/fastcgi;
    proxy_temp_path {root}/tmp/proxy;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        include {root}/chathooks-fcgiwrap.conf;
    }}
}}
""")

    def start(self):
        self.render()
        root = self.site.root
        sock = root / "sock" / "fcgiwrap.sock"
        if sock.exists():
            sock.unlink()
        log = root / "logs" / "fcgiwrap.log"
        kw = {}
        if self.site.user:
            kw = dict(user=self.site.user.pw_uid, group=self.site.user.pw_gid, extra_groups=[])
        with open(log, "ab") as out:
            # -f: the handlers' stderr goes to nginx's error log, where users look.
            fcgi = subprocess.Popen([find("fcgiwrap"), "-f", "-c", "2", "-s", f"unix:{sock}"],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, **kw)
        self.procs.append(fcgi)
        wait_for_path(sock, fcgi, log)
        nginx_log = root / "logs" / "nginx.out"
        with open(nginx_log, "ab") as out:
            nginx = subprocess.Popen([find("nginx"), "-p", str(root), "-c", str(root / "nginx.conf"),
                                      "-e", str(root / "logs" / "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        self.procs.append(nginx)
        wait_for_port(self.port, nginx, nginx_log)
        return self

    def url(self, handler):
        return f"http://127.0.0.1:{self.port}{ROUTES[handler]}"

    def error_log(self):
        return read_tail(self.site.root / "logs" / "error.log", 100_000)

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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
