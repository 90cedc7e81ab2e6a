"""Helpers for the console's browser tests (issue #13): a real server in front
of `chathooks` (the Apache .htaccess bundle, or nginx with one spawn-fcgi'd
`chathooks` process), a real SMTP server behind msmtp, and headless Chromium
(Debian's chromium and chromedriver) driven by Selenium.

Imported by name (`from consolekit import …`), never as `conftest`. Every HTTP
response read here — through urllib, or a page as the browser holds it — is
recorded for Tests/zz_secrets."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import bcrypt

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "Tests" / "integration"))

import itkit  # noqa: E402  (records every webclient.post for Tests/zz_secrets)
from mail_server import MailServer  # noqa: E402
from stack import Apache, NginxSpawnFcgi, Site, record_evidence  # noqa: E402
import webclient  # noqa: E402

# The console's password (a constant named as a secret: Tests/zz_secrets looks for it in every response).
ADMIN_PASSWORD = "console-password-Vq7T2mX9pL4wR8zK"
WRONG_PASSWORD = "console-wrong-guess-000"
TIMEOUT = 10          # seconds: every wait on the browser or the network is bounded by this
HTTP_TIMEOUT = 10
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SESSION_COOKIE = "chathooks_session"

# Security headers every HTML page of the console carries (the contract).
CSP_DIRECTIVES = {"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'",
                  "frame-ancestors 'none'", "base-uri 'none'"}
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                    "cache-control": "no-store", "x-frame-options": "DENY"}

# What a visitor may type: each must reach the page as text, never as markup, a link or a script.
HOSTILE = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "\u202eevil\u202c right-to-left override",
    "\u202eunterminated override",  # no U+202C: it runs on into whatever the page puts after it
    "L" + "0123456789" * 1000,  # one line of 10,001 characters
]

# The form's mail goes to the test's SMTP server through msmtp (bin/sendmail beside the config).
MAIL_ACTION = ('{ type: "mail", to: ["ops@example.jp"], from: "チャット通知 <noreply@example.jp>", '
               'sendmail: "bin/sendmail" }')


def password_hash():
    """A bcrypt hash of ADMIN_PASSWORD made by Python's bcrypt (cost 4: fast)."""
    return bcrypt.hashpw(ADMIN_PASSWORD.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()


def config_text(admin_hash):
    """The integration tests' config (examples/chathooks.json5 filled in), with
    a mail action on forms and, given a hash, the console's `admin` block."""
    text = itkit.config_text()
    # Durability is tested elsewhere: no fsync per event here (a hundred posts in a second, not five).
    assert 'fsync: true' in text
    text = text.replace('journal: { path: "data/journal.jsonl", fsync: true }', 'journal: { path: "data/journal.jsonl", fsync: false }')
    append = '{ type: "append", path: "data/forms/{date}.jsonl" },'
    assert append in text, "examples/chathooks.json5 no longer has the form's append action"
    text = text.replace(append, append + "\n          " + MAIL_ACTION + ",", 1)
    journal = "  journal: {"
    assert journal in text
    if admin_hash:
        text = text.replace(journal, f'  admin: {{ passwordHash: "{admin_hash}", }},\n' + journal, 1)
    return text


def without_admin(text):
    lines = [line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("admin: {")]
    return "".join(lines)


# --- HTTP through urllib, never following a redirect, every answer recorded ---------------------

class Reply(webclient.Reply):
    """webclient's reply, with its body as text."""

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return f"<Reply {self.status} {self.headers.get('location', '')} {self.body[:300]!r}>"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url, data=None, headers=None, method=None):
    """One request; a 3xx is returned as it is. `data`: a dict (form-encoded) or bytes."""
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with _opener.open(req, timeout=HTTP_TIMEOUT) as r:
            reply = Reply(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        reply = Reply(e.code, dict(e.headers), e.read())
    record_evidence("http-response", "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()).encode()
                    + b"\r\n" + reply.body)
    return reply


def origin_of(url):
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


# --- The server, the site and the mail --------------------------------------------------------

KINDS = ("apache-htaccess", "nginx-fastcgi")


class Console:
    """One started stack with the console configured, and where its files are."""

    def __init__(self, kind, tmp: Path, admin=True):
        self.kind = kind
        self.smtp = MailServer().start()
        self.hash = password_hash() if admin else None
        self.site = Site(tmp / "site", config_text(self.hash))
        if kind == "apache-htaccess":
            self.stack = Apache(self.site, mode="htaccess")
        else:
            self.stack = NginxSpawnFcgi(self.site)
        self.started = False

    def start(self):
        self.stack.start()
        self.started = True
        self.smtp.write_sendmail(self.sendmail)
        return self

    def stop(self):
        try:
            if self.started:
                self.stack.stop()  # also keeps the data/ and logs/ folders for Tests/zz_secrets
        finally:
            self.smtp.stop()

    # Where things are: the bundle's folder for Apache, the site's root for nginx.
    @property
    def home(self) -> Path:
        return self.stack.folder if self.kind == "apache-htaccess" else self.site.root

    @property
    def config_path(self) -> Path:
        return self.home / "chathooks.json5"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def sendmail(self) -> Path:
        (self.home / "bin").mkdir(exist_ok=True)
        return self.home / "bin" / "sendmail"

    @property
    def sessions(self) -> Path:
        return self.data / "console" / "sessions"

    @property
    def base(self):
        """The console's URL, with its trailing slash."""
        if self.kind == "apache-htaccess":
            return f"http://127.0.0.1:{self.stack.port}/chathooks/chathooks.cgi/admin/"
        return f"http://127.0.0.1:{self.stack.port}/hooks/admin/"

    @property
    def cookie_path(self):
        return urllib.parse.urlsplit(self.base).path

    def url(self, page=""):
        return self.base + page

    @property
    def origin(self):
        return origin_of(self.base)

    def error_log(self):
        return self.stack.error_log()[-3000:]

    def post_event(self, handler, body):
        """A webhook call as Chat Dealer or SPALO makes it (recorded by itkit's webclient.post)."""
        import webclient
        reply = webclient.post(self.stack.url(handler), body, itkit.headers(handler))
        return reply

    def journal_records(self):
        return [json.loads(line) for line in self.stack.journal_lines()]

    def outcomes(self):
        path = self.data / "outcomes.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def rejections(self):
        path = self.data / "rejections.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def spooled(self):
        return sorted((self.data / "spool").glob("*.mail"))

    def cli(self, *args):
        """`chathooks COMMAND --config` on this site's config, as the service user (files stay theirs)."""
        user = self.site.user
        kw = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[]) if user else {}
        done = subprocess.run([str(self.site.bin_dir / "chathooks"), *args, "--config", str(self.config_path)],
                              capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin"}, cwd="/", **kw)
        record_evidence("cli-stdout", done.stdout)
        record_evidence("cli-stderr", done.stderr)
        return done


# --- The browser ------------------------------------------------------------------------------

class Browser:
    """Headless Chromium through Debian's chromedriver: no download, no sandbox
    (the tests run as root), its own profile folder; stopped by pid."""

    def __init__(self, folder: Path):
        os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager look for a driver on the network
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.profile = tempfile.mkdtemp(prefix="chathooks-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--user-data-dir={self.profile}", "--window-size=1280,1400", "--no-first-run",
                    "--no-default-browser-check", "--disable-background-networking", "--disable-sync",
                    "--disable-component-update", "--disable-extensions", "--lang=ja"):
            options.add_argument(arg)
        options.page_load_strategy = "normal"  # driver.get returns once the page's load event has fired
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations are reported there
        log = str(self.folder / "chromedriver.log")
        try:
            # Its own process group: chromedriver and every Chromium process it starts are stopped together.
            self.service = Service(executable_path=CHROMEDRIVER, log_output=log, popen_kw={"start_new_session": True})
        except TypeError:  # an older Selenium (Debian's python3-selenium)
            self.service = Service(executable_path=CHROMEDRIVER, log_path=log)
        self.driver = webdriver.Chrome(service=self.service, options=options)
        self.driver.set_page_load_timeout(TIMEOUT)
        self.driver.set_script_timeout(TIMEOUT)
        self.shots = 0

    def quit(self):
        pid = getattr(getattr(self.service, "process", None), "pid", None)
        try:
            self.driver.quit()
        finally:
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)  # whatever of its group is left
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    self.service.process.wait(timeout=10)
                except Exception:
                    pass
            import shutil
            shutil.rmtree(self.profile, ignore_errors=True)

    def record(self, name, folder: Path, screenshot=True):
        """A screenshot of the page under the test's folder, and the page as the
        browser holds it (there too, and for Tests/zz_secrets)."""
        self.shots += 1
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:80]
        path = folder / f"{self.shots:02d}-{safe}.png"
        if screenshot:
            self.driver.save_screenshot(str(path))
        source = self.driver.page_source
        (folder / f"{self.shots:02d}-{safe}.html").write_text(source, encoding="utf-8")
        record_evidence("browser-page", f"{self.driver.current_url}\n\n{source}")
        return path


@contextmanager
def started(kind, tmp, admin=True):
    console = Console(kind, tmp, admin=admin)
    try:
        yield console.start()
    finally:
        console.stop()
