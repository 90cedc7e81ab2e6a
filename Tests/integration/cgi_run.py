"""Runs the built executables as CGI processes on a site whose config names the
actions under test (for the action tests: mail, command)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

from cgi_reply import parse_cgi
from stack import REPO, record_evidence

BIN = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
TOKEN = "action-token-0123456789abcdef"
TIMEOUT = 60


class Reply:
    def __init__(self, stdout, stderr):
        record_evidence("cgi-stdout", stdout)  # for Tests/zz_secrets
        record_evidence("cgi-stderr", stderr)
        self.status, _, self.headers, self.body = parse_cgi(stdout)
        self.stderr = stderr.decode(errors="replace")

    @property
    def json(self):
        return json.loads(self.body)


class CGISite:
    def __init__(self, root: Path, actions: dict, extra_env=None):
        """`actions`: event name -> list of JSON5 action texts."""
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        shutil.copy2(BIN / "chathooks", self.bin / "chathooks")
        events = ", ".join(f'"{e}": {{ actions: [{", ".join(a)}] }}' for e, a in actions.items())
        self.config = root / "chathooks.json5"
        self.config.write_text(
            f'{{ journal: {{ path: "data/journal.jsonl", fsync: false }},\n'
            f'  chatdealer: {{ auth: {{ header: "X-Chathooks-Token", tokens: ["{TOKEN}"] }},\n'
            f'    events: {{ {events} }} }} }}\n', encoding="utf-8")
        self.extra_env = extra_env or {}

    @staticmethod
    def sample(event):
        return json.loads((REPO / "examples" / "samples" / f"{event}.json").read_text(encoding="utf-8"))

    def post(self, event, body):
        data = json.dumps(body, ensure_ascii=False).encode()
        env = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(data)),
               "CONTENT_TYPE": "application/json", "PATH_INFO": f"/chatdealer/{event}", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_X_CHATHOOKS_TOKEN": TOKEN, "CHATHOOKS_CONFIG": str(self.config), **self.extra_env}
        p = subprocess.run([str(self.bin / "chathooks")], input=data, env=env, capture_output=True, timeout=TIMEOUT)
        assert p.returncode == 0, p.stderr
        return Reply(p.stdout, p.stderr)

    def cli(self, *args):
        """The admin command, with the environment the web server gives the
        handlers (secrets named by `{ env: … }` must be there too)."""
        env = {"PATH": "/usr/bin:/bin", **self.extra_env}
        extra = [str(self.config)] if args[0] == "retry" else []
        done = subprocess.run([str(self.bin / "chathooks"), *args, *extra], env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
        record_evidence("cli-stdout", done.stdout)  # for Tests/zz_secrets
        record_evidence("cli-stderr", done.stderr)
        return done

    def journal_lines(self):
        path = self.root / "data" / "journal.jsonl"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
