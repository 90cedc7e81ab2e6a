"""Helpers for running the built chathooks handlers as CGI processes.

Each test gets a `Site` (a config, its secret file and its data folder in
pytest's tmp_path) and calls `site.run(...)`, which starts one executable with a
clean CGI environment and the body on stdin, and parses what it writes.
"""
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cgi_reply import parse_cgi
from stack import record_evidence  # every response and stderr, for Tests/zz_secrets

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO_ROOT / ".build" / "release")
TIMEOUT = 10  # seconds, for every subprocess

TOKEN1 = "tok-aaaaaaaaaaaaaaaa"
TOKEN2 = "tok-bbbbbbbbbbbbbbbbbbbbbb"
WEBHOOK_KEY = "3F2A9C0B7D1E4F5A6B8C9D0E1F2A3B4C5D6E7F80"
CLIENT_SECRET = "client-secret-Zq8yW3"
ADDRESS = "東京都中央区銀座1-2-3"
EMPTY_MESSAGE = "設定できるデータがありません。"

CONFIG = """{
  // written by conftest.py
  journal: { path: "data/journal.jsonl", fsync: true },
  limits: { maxBodyBytes: 4096 },
  chatdealer: {
    auth: { header: "X-Chathooks-Token", tokens: ["%(token1)s", { env: "CD_TOKEN2" }] },
    events: {
      "chat-start": { actions: [] },
      "chat-message": { actions: [] },
      "chat-end": { actions: [ { type: "append", path: "data/chats/{chat_id}.jsonl" } ] },
      "scenario": { actions: [] },
      "form": { actions: [] },
    },
  },
  spalo: {
    webhookKey: "%(webhook_key)s",
    clientSecret: { file: "secret.txt" },
    dataset: { static: %(static)s, emptyMessage: "%(empty)s" },
  },
}
"""


@dataclass
class Result:
    returncode: int
    status: int
    reason: str
    headers: dict  # lower-case name -> value
    body: bytes
    stdout: bytes
    stderr: str

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Site:
    root: Path
    static: list = field(default_factory=lambda: [{"key": "住所", "value": ADDRESS}])
    config_text: str | None = None

    def __post_init__(self):
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "secret.txt").write_text(CLIENT_SECRET + "\n")
        self.write_config()

    @property
    def config_path(self) -> Path:
        return self.root / "chathooks.json5"

    @property
    def journal_path(self) -> Path:
        return self.root / "data" / "journal.jsonl"

    def write_config(self, text: str | None = None):
        text = text or self.config_text or CONFIG % {
            "token1": TOKEN1, "webhook_key": WEBHOOK_KEY, "empty": EMPTY_MESSAGE,
            "static": json.dumps(self.static, ensure_ascii=False),
        }
        self.config_path.write_text(text, encoding="utf-8")

    def journal_lines(self) -> list[str]:
        if not self.journal_path.exists():
            return []
        # By "\n" only: str.splitlines() also splits at U+0085 (NEL) and
        # U+2028, which a journal line may hold raw inside a string.
        return self.journal_path.read_text(encoding="utf-8").split("\n")[:-1]

    def journal(self) -> list[dict]:
        return [json.loads(line) for line in self.journal_lines()]

    def env(self, *, method="POST", length=None, content_type="application/json",
            token=TOKEN1, extra=None, drop=()):
        env = {
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": content_type,
            "REMOTE_ADDR": "203.0.113.7",
            "CHATHOOKS_CONFIG": str(self.config_path),
            "CD_TOKEN2": TOKEN2,
            "TZ": "JST-9",  # a POSIX zone string: no tz files needed
            "PATH": "/usr/bin:/bin",
        }
        if length is not None:
            env["CONTENT_LENGTH"] = str(length)
        if token is not None:
            env["HTTP_X_CHATHOOKS_TOKEN"] = token
        env.update(extra or {})
        for name in drop:
            env.pop(name, None)
        return {k: v for k, v in env.items() if v is not None}

    def start(self, handler, body=b"", **kw) -> subprocess.Popen:
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        kw.setdefault("length", len(body))
        proc = subprocess.Popen([str(BIN_DIR / handler)], env=self.env(**kw), cwd=self.root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.body = body
        return proc

    @staticmethod
    def finish(proc: subprocess.Popen) -> Result:
        try:
            out, err = proc.communicate(proc.body, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return Site.result(proc.returncode, out, err)

    @staticmethod
    def result(returncode, out, err) -> Result:
        record_evidence("cgi-stdout", out)
        record_evidence("cgi-stderr", err)
        status, reason, headers, body = parse_cgi(out)
        return Result(returncode, status, reason, headers, body, out, err.decode("utf-8", "replace"))

    def run(self, handler, body=b"", **kw) -> Result:
        """Runs one request; `body` is bytes, text, or an object sent as JSON."""
        return self.finish(self.start(handler, body, **kw))

    def run_stdin_open(self, handler, **kw) -> Result:
        """Runs with stdin open and empty until the whole response has been read:
        a handler that waited for the body before answering would never answer
        (the read times out). Only then is stdin closed, so the handler can
        drain the announced body as a CGI gateway expects, and exit."""
        proc = subprocess.Popen([str(BIN_DIR / handler)], env=self.env(**kw), cwd=self.root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = b""
        try:
            deadline = time.monotonic() + TIMEOUT
            while not response_complete(out):
                left = deadline - time.monotonic()
                ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
                if not ready:
                    raise AssertionError("no complete response while the body was withheld")
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        finally:
            proc.stdin.close()
            proc.stdin = None  # closed: communicate() must not touch it
            rest, err = proc.communicate(timeout=TIMEOUT)
        return self.result(proc.returncode, out + rest, err)


def response_complete(out: bytes) -> bool:
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True
