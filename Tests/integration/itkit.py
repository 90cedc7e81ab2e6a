"""Helpers for the integration tests: real nginx, Apache httpd, fcgiwrap and
spawn-fcgi, started from the shipped config files on 127.0.0.1 and stopped at
the end of the module that uses them, pass or fail."""
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import stack as stacklib  # noqa: E402
from stack import REPO, Site, record_evidence  # noqa: E402
import webclient  # noqa: E402

_post = webclient.post


def _recorded_post(*args, **kw):
    """webclient.post, with every response kept for Tests/zz_secrets (the test
    modules import `post` after conftest.py has imported this module)."""
    reply = _post(*args, **kw)
    record_evidence("http-response", "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()).encode() + b"\r\n" + reply.body)
    return reply


webclient.post = _recorded_post

TOKEN = "integration-token-0123456789"
# One key and client secret per SPALO webhook of the example config (plain
# constants, each named as a secret: Tests/zz_secrets harvests them by name).
WEBHOOK_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
SECRET = "integration-client-secret"
SEARCH_WEBHOOK_KEY = "B1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
SEARCH_SECRET = "integration-search-client-secret"
SEND_WEBHOOK_KEY = "C1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
SEND_SECRET = "integration-send-client-secret"
WEBHOOK_KEYS = {"dataset": WEBHOOK_KEY, "search": SEARCH_WEBHOOK_KEY, "send": SEND_WEBHOOK_KEY}
SECRETS = {"dataset": SECRET, "search": SEARCH_SECRET, "send": SEND_SECRET}
LIMIT = 65536


def config_text():
    config = (REPO / "examples" / "chathooks.json5").read_text(encoding="utf-8")
    config = stacklib.fill_placeholders(config, TOKEN, WEBHOOK_KEYS, SECRETS)
    return config.replace("maxBodyBytes: 1048576", f"maxBodyBytes: {LIMIT}")


@contextmanager
def running(kind, config=None, **kw):
    """A started stack of the given class on a fresh site in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="chathooks-it-") as tmp:
        os.chmod(tmp, 0o755)  # the servers run as www-data when the tests run as root
        site = Site(Path(tmp) / "site", config or config_text())
        stack = kind(site, **kw)
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


def sample(handler):
    body = json.loads((REPO / "examples" / "samples" / f"{stacklib.sample_name(handler)}.json").read_text(encoding="utf-8"))
    if kind := stacklib.spalo_kind(handler):
        body["webhookKey"] = WEBHOOK_KEYS[kind]
        body["secretHash"] = bcrypt.hashpw(SECRETS[kind].encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
    return body


def headers(handler, token=TOKEN):
    h = {"Content-Type": "application/json"}
    if not stacklib.spalo_kind(handler) and token is not None:
        h["X-Chathooks-Token"] = token
    return h
