"""The site every hostile case runs against: cgi_site's Site (so its secrets,
its strict CGI reader and the evidence recording for Tests/zz_secrets are the
same), with actions that take request fields into a file name, a mail header
and a response header:

- chat-start appends to data/starts/{visitor_id}/{chat_id}.jsonl;
- chat-message appends to data/chats/{chat_id}.jsonl and mails a subject made
  of chat_id, post_user and msg;
- chat-end appends to data/chats/{chat_id}.jsonl;
- scenario appends to data/scenario/{visitor_key}-{page_title}.jsonl;
- form mails (default subject: the form's subject; Reply-To from an item) and
  appends to data/forms/{subject}.jsonl;
- spalo appends to data/spalo/{botName}.jsonl, and to data/blocked/{item_name}.jsonl,
  which always fails (data/blocked is a file), so that item_name reaches the
  X-Chathooks-Action-Failed response header.

sendmail is bin/sendmail, a script that keeps its argv and stdin in mailbox/.
"""
import email
import email.policy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tools"))
sys.path.insert(0, str(HERE.parent / "handler"))

from cgi_site import (BIN_DIR, CLIENT_SECRET, TOKEN1, TOKEN2, WEBHOOK_KEY, Site)  # noqa: E402,F401

MAIL_TO = "ops@example.jp"
MAX_BODY = 16 * 1024 * 1024  # a 10 MB string must get through

CONFIG = """{
  journal: { path: "data/journal.jsonl", fsync: false },
  limits: { maxBodyBytes: %(max)d },
  chatdealer: {
    auth: { header: "X-Chathooks-Token", tokens: ["%(token1)s", { env: "CD_TOKEN2" }] },
    events: {
      "chat-start": { actions: [ { type: "append", path: "data/starts/{visitor_id}/{chat_id}.jsonl", fsync: false } ] },
      "chat-message": { actions: [
        { type: "append", path: "data/chats/{chat_id}.jsonl", fsync: false },
        { type: "mail", to: ["%(to)s"], from: "Hooks <noreply@example.jp>", sendmail: "bin/sendmail",
          spool: "data/spool", subject: "chat {{chat_id}} from {{post_user}}: {{msg}}" },
      ] },
      "chat-end": { actions: [ { type: "append", path: "data/chats/{chat_id}.jsonl", fsync: false } ] },
      "scenario": { actions: [ { type: "append", path: "data/scenario/{visitor_key}-{page_title}.jsonl", fsync: false } ] },
      "form": { actions: [
        { type: "mail", to: ["%(to)s"], from: "noreply@example.jp", replyToItem: "メールアドレス",
          sendmail: "bin/sendmail", spool: "data/spool" },
        { type: "append", path: "data/forms/{subject}.jsonl", fsync: false },
      ] },
    },
  },
  spalo: {
    webhookKey: "%(key)s",
    clientSecret: { file: "secret.txt" },
    dataset: { static: [ { key: "住所", value: "東京都中央区銀座1-2-3" } ] },
    actions: [
      { type: "append", path: "data/spalo/{botName}.jsonl", fsync: false },
      { type: "append", path: "data/blocked/{item_name}.jsonl", fsync: false },
    ],
  },
}
"""

SENDMAIL = """#!/bin/sh
# Keeps how it was run: argv one per line, the message as given.
box="$(dirname "$0")/../mailbox"
mkdir -p "$box"
n=$(ls "$box" | grep -c 'eml$')
printf '%s\\n' "$@" > "$box/$n.argv"
cat > "$box/$n.eml"
"""

# Every header the receivers write, in a response or a mail.
RESPONSE_HEADERS = {"content-type", "content-length", "allow", "x-chathooks-request-id",
                    "x-chathooks-action-failed", "x-chathooks-action-deferred", "x-chathooks-error"}
MAIL_HEADERS = {"from", "to", "reply-to", "subject", "date", "message-id", "mime-version",
                "content-type", "content-transfer-encoding"}


def make_site(root: Path) -> Site:
    site = Site(root, config_text=CONFIG % {"max": MAX_BODY, "token1": TOKEN1, "key": WEBHOOK_KEY, "to": MAIL_TO})
    (root / "bin").mkdir(exist_ok=True)
    sendmail = root / "bin" / "sendmail"
    sendmail.write_text(SENDMAIL)
    sendmail.chmod(0o755)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "blocked").write_text("a file where the spalo action wants a folder\n")
    return site


def mails(site: Site):
    """(argv, raw bytes, parsed message) for every message sendmail was given."""
    box = site.root / "mailbox"
    out = []
    for eml in sorted(box.glob("*.eml")) if box.exists() else []:
        argv = eml.with_suffix(".argv").read_text(encoding="utf-8").splitlines()
        raw = eml.read_bytes()
        out.append((argv, raw, email.message_from_bytes(raw, policy=email.policy.default)))
    return out


def check_mail_headers(raw: bytes):
    """Every header line is a known header or a folded continuation: nothing a
    sender wrote became a header of its own."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name = line.split(b":", 1)[0].decode("ascii", "replace").lower()
        assert name in MAIL_HEADERS, f"unexpected mail header line {line!r}"
        assert b"\r" not in line and b"\0" not in line, line
