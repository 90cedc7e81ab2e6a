"""Fixtures of the console's browser tests; the helpers are in consolekit.py
(a test module must never import `conftest`: see Tests/integration/conftest.py).

One module-scoped stack per way of serving the console (the Apache .htaccess
bundle, nginx with one spawn-fcgi'd `chathooks`), each with the samples posted
through the real server, and one headless Chromium per stack. Everything is
stopped by pid at the end of the module, pass or fail."""
import os
import tempfile
from pathlib import Path

import pytest

import consolekit  # noqa: F401  (records every HTTP response for Tests/zz_secrets)
from consolekit import KINDS, Browser, itkit, started

# The samples posted first: every Chat Dealer event, and SPALO's dataset and send.
SAMPLES = ("chatdealer-chat-start", "chatdealer-chat-message", "chatdealer-chat-end", "chatdealer-scenario",
           "chatdealer-form", "spalo-dataset", "spalo-send")


def post_samples(console):
    ids = {}
    for handler in SAMPLES:
        r = console.post_event(handler, itkit.sample(handler))
        assert r.status == 200, (handler, r.status, r.body, console.error_log())
        ids[handler] = r.json["id"] if not handler.startswith("spalo-") else r.headers["x-chathooks-request-id"]
    return ids


@pytest.fixture(scope="module", params=KINDS)
def console(request):
    # Not pytest's tmp folder (0700): the servers run as www-data and must reach the site.
    with tempfile.TemporaryDirectory(prefix="chathooks-console-") as tmp:
        os.chmod(tmp, 0o755)
        with started(request.param, Path(tmp)) as c:
            c.samples = post_samples(c)
            yield c


@pytest.fixture(scope="module")
def browser(console, tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp(f"chromium-{console.kind}"))
    try:
        yield b
    finally:
        b.quit()


@pytest.fixture
def shots(tmp_path, console):
    """The test's folder for its screenshots (kept: pytest keeps every tmp folder of the run)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder
