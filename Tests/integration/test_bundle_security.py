"""The shared-hosting bundle cannot leak its secrets, whatever the user does
(issue #11): served by a real Apache with only the shipped .htaccess (no
test-only rules), the bundle's folder serves the CGI program and nothing
else — not the config, not an editor's or FTP client's backup of it, not
secrets/, not data/; and a bundle uploaded without its .htaccess (FTP clients
hide dot files) refuses every call with 503 config_exposed, naming the cure,
while `chathooks check` says the same from a shell."""
import subprocess

import pytest

from itkit import SECRET, TOKEN, WEBHOOK_KEY, headers, running, sample
from stack import REPO, Apache
from webclient import post

# What a user's editor, FTP client or own hand leaves beside the config.
LEFT_BESIDE = ["chathooks.json5.bak", "chathooks.json5~", "chathooks.json5.orig", "chathooks.json5.old",
               "chathooks.json5.swp", "#chathooks.json5#", "chathooks.json5.save", "chathooks.txt",
               "secrets/spalo-webhook-key", "secrets/spalo-client-secret", "secrets/token", "notes.md",
               "backup/chathooks.json5", "chathooks.json5.1", "data/hooks", "data/chathooks.cgi",
               "secrets/hooks"]


@pytest.fixture(scope="module")
def bundle():
    with running(Apache, mode="htaccess") as stack:
        folder = stack.folder
        config = (folder / "chathooks.json5").read_text(encoding="utf-8")
        for name in LEFT_BESIDE:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.startswith("data/"):
                # data/ is where the secrets scan looks for leaks: a marker, no secret.
                path.write_text(PLANTED, encoding="utf-8")
            else:
                path.write_text(config if "json5" in name else f"{TOKEN} {WEBHOOK_KEY} {SECRET}\n", encoding="utf-8")
        yield stack


PLANTED = "planted by the test: never to be served\n"


def get(stack, path):
    return post(f"http://127.0.0.1:{stack.port}/chathooks/{path}", method="GET")


@pytest.mark.parametrize("name", ["chathooks", "chathooks.json5", ".htaccess", "INSTALL.md", "SHA256SUMS", "data/", "data/.htaccess",
                                  "data/journal.jsonl", "secrets/", "", "chathooks.json5%00", "CHATHOOKS.JSON5",
                                  "./chathooks.json5", "data/../chathooks.json5", "chathooks.cgi/../chathooks.json5"]
                         + LEFT_BESIDE)
def test_nothing_but_the_program_is_served(bundle, name):
    # The journal exists, so that its denial is real.
    assert post(bundle.url("chatdealer-chat-start"), sample("chatdealer-chat-start"), headers("chatdealer-chat-start")).status == 200
    r = get(bundle, name.replace("#", "%23"))
    assert r.status in (403, 404), (name, r.status)
    for secret in (TOKEN, WEBHOOK_KEY, SECRET, PLANTED):
        assert secret.encode() not in r.body


def test_the_program_and_its_short_urls_are_served(bundle):
    for url in (bundle.url("chatdealer-form"), bundle.url("chatdealer-form", short=True), bundle.url("spalo-dataset")):
        handler = "spalo-dataset" if "spalo" in url else "chatdealer-form"
        r = post(url, sample(handler), headers(handler))
        assert r.status == 200, (url, r.status, r.body)


def test_a_bundle_without_its_htaccess_refuses_every_call_and_says_why():
    with running(Apache, mode="htaccess") as stack:
        (stack.folder / ".htaccess").unlink()  # as an FTP client that skips dot files leaves it
        # Shared hosts run .cgi files everywhere from their own configuration;
        # here the site's top folder says so.
        (stack.folder.parent / ".htaccess").write_text("Options +ExecCGI\nAddHandler cgi-script .cgi\n")
        for handler in ("chatdealer-chat-start", "spalo-dataset"):
            r = post(stack.url(handler), sample(handler), headers(handler))
            # SPALO gets its 400 (a 5xx shows as a broken bot), the status meant in a header.
            assert (r.status, r.headers.get("x-chathooks-status")) == ((400, "503") if "spalo" in handler else (503, None)), \
                (handler, r.status, r.body)
            for secret in (TOKEN, WEBHOOK_KEY, SECRET, str(stack.folder)):
                assert secret.encode() not in r.body
            if handler == "spalo-dataset":
                assert r.headers["x-chathooks-error"] == "config_exposed"
            else:
                assert r.json["error"] == "config_exposed"
                assert "may be downloadable" in r.json["message"] and ".htaccess" in r.json["message"]
        assert stack.journal_lines() == []
        log = stack.error_log()
        assert "no .htaccess in" in log and str(stack.folder) in log
        # chathooks check says it too, from a shell, for the bundle's layout.
        check = subprocess.run([str(stack.folder / "chathooks.cgi"), "check", str(stack.folder / "chathooks.json5")],
                               capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        assert check.returncode == 1
        assert "may be downloadable" in check.stderr and "no .htaccess in" in check.stderr
        # With the .htaccess back, calls are received again.
        (stack.folder / ".htaccess").write_bytes((REPO / "apache" / "htaccess").read_bytes())
        h = "chatdealer-chat-start"
        assert post(stack.url(h), sample(h), headers(h)).status == 200
        check = subprocess.run([str(stack.folder / "chathooks.cgi"), "check", str(stack.folder / "chathooks.json5")],
                               capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        assert check.returncode == 0, check.stderr
