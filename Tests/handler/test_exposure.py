"""Under Apache, a configuration the web may hand out is refused (issue #11):
the bundle's layout inside the document root, through a linked folder too,
with no .htaccess that really denies it — a comment, or a parent's rule for
another file (WordPress's xmlrpc.php), does not count."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stack import record_evidence
from cgi_site import BIN_DIR, CONFIG, CLIENT_SECRET, EMPTY_MESSAGE, TOKEN1, TOKEN2, WEBHOOK_KEY
from test_handlers import SAMPLES

HTACCESS = (Path(__file__).resolve().parents[2] / "apache" / "htaccess").read_text()


def bundle(root: Path, folder: Path):
    """public_html/<folder> as uploaded: chathooks.cgi, its config and secret file."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BIN_DIR / "chathooks", folder / "chathooks.cgi")
    (folder / "secret.txt").write_text(CLIENT_SECRET + "\n")
    (folder / "chathooks.json5").write_text(CONFIG % {
        "token1": TOKEN1, "webhook_key": WEBHOOK_KEY, "empty": EMPTY_MESSAGE,
        "static": json.dumps([{"key": "k", "value": "v"}])}, encoding="utf-8")


def call(docroot: Path, url_folder: str, program: Path):
    body = json.dumps(SAMPLES["chat-start"]).encode()
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "Apache/2.4.57 (Debian)", "REQUEST_METHOD": "POST",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "HTTP_X_CHATHOOKS_TOKEN": TOKEN1,
           "DOCUMENT_ROOT": str(docroot), "SCRIPT_FILENAME": str(program), "SCRIPT_NAME": f"/{url_folder}/chathooks.cgi",
           "PATH_INFO": "/chatdealer/chat-start", "REMOTE_ADDR": "203.0.113.7", "CD_TOKEN2": TOKEN2, "PATH": "/usr/bin:/bin"}
    p = subprocess.run([str(program)], input=body, capture_output=True, env=env, timeout=10)
    record_evidence("cgi-stdout", p.stdout)
    record_evidence("cgi-stderr", p.stderr)
    return p.stdout.split(b"\r\n", 1)[0], p.stdout, p.stderr.decode()


@pytest.mark.parametrize("htaccess,parent,refused", [
    (None, None, True),
    ("# Require all denied\n", None, True),
    (None, "<Files xmlrpc.php>\norder deny,allow\ndeny from all\n</Files>\n", True),
    ("<FilesMatch \"\\.bak$\">\nRequire all denied\n</FilesMatch>\n", None, True),
    (HTACCESS, None, False),
    (None, "Require all denied\n", False),
], ids=["none", "a-comment", "wordpress-parent", "backups-only", "the-shipped-one", "a-parent-that-denies-all"])
def test_the_config_beside_the_program_must_be_denied(tmp_path, htaccess, parent, refused):
    docroot = tmp_path / "public_html"
    folder = docroot / "chathooks"
    bundle(docroot, folder)
    if htaccess is not None:
        (folder / ".htaccess").write_text(htaccess)
    if parent is not None:
        (docroot / ".htaccess").write_text(parent)
    status, out, err = call(docroot, "chathooks", folder / "chathooks.cgi")
    if refused:
        assert status == b"Status: 503 Service Unavailable", out
        assert b'"error":"config_exposed"' in out and TOKEN1.encode() not in out
        assert "no .htaccess in" in err
        assert not (folder / "data" / "journal.jsonl").exists()
    else:
        assert status == b"Status: 200 OK", out + err.encode()


def test_a_linked_install_folder_is_checked_too(tmp_path):
    # public_html/linked -> /elsewhere/chathooks: the resolved config is outside
    # the resolved document root, yet Apache serves /linked/chathooks.json5.
    docroot = tmp_path / "public_html"
    docroot.mkdir()
    elsewhere = tmp_path / "elsewhere" / "chathooks"
    bundle(docroot, elsewhere)
    os.symlink(elsewhere, docroot / "linked")
    status, out, err = call(docroot, "linked", docroot / "linked" / "chathooks.cgi")
    assert status == b"Status: 503 Service Unavailable", out
    (elsewhere / ".htaccess").write_text(HTACCESS)
    status, out, err = call(docroot, "linked", docroot / "linked" / "chathooks.cgi")
    assert status == b"Status: 200 OK", out + err.encode()


def test_nginx_is_not_asked_for_an_htaccess(tmp_path):
    docroot = tmp_path / "public_html"
    folder = docroot / "chathooks"
    bundle(docroot, folder)
    body = json.dumps(SAMPLES["chat-start"]).encode()
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "nginx/1.22.1", "REQUEST_METHOD": "POST",
           "CONTENT_LENGTH": str(len(body)), "HTTP_X_CHATHOOKS_TOKEN": TOKEN1, "DOCUMENT_ROOT": str(docroot),
           "SCRIPT_FILENAME": str(folder / "chathooks.cgi"), "PATH_INFO": "/chatdealer/chat-start",
           "CD_TOKEN2": TOKEN2, "PATH": "/usr/bin:/bin"}
    p = subprocess.run([str(folder / "chathooks.cgi")], input=body, capture_output=True, env=env, timeout=10)
    record_evidence("cgi-stdout", p.stdout)
    record_evidence("cgi-stderr", p.stderr)
    assert p.stdout.startswith(b"Status: 200 OK"), p.stdout


def test_a_scriptalias_folder_outside_the_site_is_not_web_space(tmp_path):
    # ScriptAlias /hooks/ /opt/chathooks/bin/: Apache runs what is there, it
    # never serves it, so a config beside the program needs no .htaccess.
    docroot = tmp_path / "htdocs"
    docroot.mkdir()
    bindir = tmp_path / "opt" / "chathooks" / "bin"
    bundle(docroot, bindir)
    status, out, err = call(docroot, "hooks", bindir / "chathooks.cgi")
    assert status == b"Status: 200 OK", out + err.encode()
