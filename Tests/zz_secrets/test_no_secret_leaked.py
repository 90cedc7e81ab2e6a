"""Secrets (#9): every journal, error log and response the whole suite saw is
grepped for every secret the suites configure, in the forms a leak could take.

Run it last, after the suites, in the same pytest command:

    pytest Tests/handler Tests/integration Tests/hostile Tests/durability Tests/zz_secrets

What is scanned:
- the evidence folder (tools/stack.py: evidence_dir(), $CHATHOOKS_SECRETS_LOG_DIR
  or one folder per session): every CGI stdout and stderr read through
  cgi_site.Site.result, cgi_run.Reply/CGISite.cli and test_dist, every HTTP
  response read through webclient.post in the integration tests, every
  FastCGI answer read through fastcgi_wire.Conversation and the hostile
  catalogue, and the data/ and logs/ folders (journal, append files, spool,
  nginx/Apache/spawn-fcgi logs) of every stack and temporary site, copied
  before their temporary folders go;
  (their config and secret files are copied apart, under sources/, for the
  harvest below, and not scanned);
- pytest's tmp folder for this session: every file under a data/, logs/,
  mailbox/ or out/ folder (journals, chat files, spooled and sent mail, a
  command's stdin and argv), but not a command's recorded environment (out/*.env:
  a command is handed a secret on purpose).

What is looked for: every secret found (a) as a module-level or local string
constant named like a token, key, secret or password in the suites' Python files
and tools/demo.py, (b) in every chathooks.json5 they wrote (tokens, webhookKey,
clientSecret, and the files those name), (c) the known constants imported by
name (so a broken harvest fails); each as written, JSON-escaped,
percent-encoded, upper/lower-cased, as base64 at each alignment (a mail body), and
its first two thirds (when that is 16 characters or more); plus any complete bcrypt hash (a secretHash).

It cannot pass by checking nothing: it fails when it is not the last test,
when a test module that ran left no evidence, when fewer files or bytes than a
floor were scanned, or when a planted leak in each derived form is missed.
"""
import ast
import base64
import json
import os
import re
import sys
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from stack import EVIDENCE_ENV, evidence_dir  # noqa: E402

SECRET_NAME = re.compile(r"(?i)(token|secret|webhook_?key|client_?secret|password|passwd|api_?key)")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")  # CD_TOKEN2: the name of a variable, not a secret
NOT_SECRETS = {"X-Chathooks-Token"}
BCRYPT = re.compile(rb"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
SCANNED_FOLDERS = {"data", "logs", "mailbox", "out", "spool"}
NEVER_SCANNED = re.compile(r"(\.json5|/secret\.txt|/token[^/]*\.txt|/out/[^/]*\.env)$")
MIN_FILES, MIN_BYTES = 50, 20_000

# Test modules that record no evidence yet, each with the reason (empty: none may be silent).
NOT_RECORDING = {
    "Tests/integration/test_dist.py::test_bundle_holds_what_install_needs_and_is_small": "reads the tarball only",
}


def plausible_secret(s: str) -> bool:
    """A token-like literal: not a variable's name, a header's name, a placeholder,
    a request body or a header-injection probe."""
    return (8 <= len(s) <= 200 and s.isprintable() and not any(c.isspace() or c in '{}"' for c in s)
            and not ENV_NAME.match(s) and s not in NOT_SECRETS and not s.startswith("change-me"))


def python_sources():
    files = [p for p in (REPO / "Tests").rglob("*.py") if "zz_secrets" not in p.parts]
    return files + [REPO / "tools" / "demo.py", REPO / "tools" / "stack.py"]


def harvest_constants(path: Path):
    """String constants assigned to a name (or dict key) that says secret."""
    found = set()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return found

    def keep(name, value):
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and SECRET_NAME.search(name):
            s = value.value
            if plausible_secret(s):
                found.add(s)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    keep(target.id, node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            keep(node.target.id, node.value)
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    keep(k.value, v)
        elif isinstance(node, ast.keyword) and node.arg:
            keep(node.arg, node.value)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "write_text"
              and isinstance(node.func.value, ast.Name) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            # secret_file.write_text("token-from-a-file-000000\n"): a secret kept in a file
            keep(node.func.value.id, ast.Constant(node.args[0].value.strip()))
    return found


CONFIG_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def harvest_config(path: Path):
    """The literal secrets of one chathooks.json5, and the files it names for them."""
    found = set()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return found
    spans = [m.group(1) for m in re.finditer(r"tokens\s*:\s*\[(.*?)\]", text, re.S)]
    spans += [m.group(1) for m in re.finditer(r"(?:webhookKey|clientSecret|conninfo|passwordHash)\s*:\s*(\"[^\"]*\"|\{[^}]*\})", text)]
    for span in spans:
        for m in re.finditer(r'(file|env)\s*:\s*"([^"]+)"|' + CONFIG_STRING.pattern, span):
            if m.group(1) == "file":
                secret_file = (path.parent / m.group(2))
                if secret_file.is_file():
                    value = secret_file.read_text(encoding="utf-8", errors="replace").rstrip("\r\n")
                    # A libpq connection string (the sink's conninfo): its password is the secret.
                    password = re.search(r"(?:^|\s)password=(\S+)", value)
                    if password:
                        value = password.group(1)
                    if plausible_secret(value):
                        found.add(value)
            elif m.group(1) is None and m.group(3) is not None:
                value = m.group(3)
                if plausible_secret(value):
                    found.add(value)
    return found


def base64_cores(secret: bytes):
    """The base64 characters that depend on `secret` alone, at each of the
    three alignments it can have inside a longer base64 text."""
    cores = []
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + secret).decode().rstrip("=")
        first = -(-8 * k // 6)                  # ceil(8k/6): the first char made of secret bits only
        last = (8 * (k + len(secret)) - 6) // 6  # the last such char
        core = enc[first:last + 1]
        if len(core) >= 8:
            cores.append(core.encode())
    return cores


def derived_forms(secret: str):
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret), secret.lower(), secret.upper()}
    if len(secret) * 2 // 3 >= 16:  # a cut secret (shorter prefixes are words: "client-secret")
        forms.add(secret[: len(secret) * 2 // 3])
    out = {f.encode("utf-8") for f in forms if len(f) >= 8}
    out.update(base64_cores(secret.encode("utf-8")))
    return out


def scanned_files(basetemp: Path, evidence: Path):
    files = []
    if evidence and evidence.exists():
        files += [p for p in evidence.rglob("*") if p.is_file() and p.name != "index.tsv"
                  and "sources" not in p.relative_to(evidence).parts]
    for p in basetemp.rglob("*"):
        if p.is_file() and not p.is_symlink() and SCANNED_FOLDERS & set(p.relative_to(basetemp).parts[:-1]):
            files.append(p)
    return [p for p in files if not NEVER_SCANNED.search(str(p))]


class Scanner:
    def __init__(self, secrets):
        self.patterns = {}  # form -> the secret it comes from
        for s in sorted(secrets):
            for form in derived_forms(s):
                self.patterns.setdefault(form, s)
        # One pass per file: an alternation of every form (longest first).
        self.regex = re.compile(b"|".join(re.escape(f) for f in sorted(self.patterns, key=len, reverse=True))) \
            if self.patterns else None

    def hits(self, data: bytes):
        found = []  # (secret, the form found), each once
        flat = data.replace(b"\r\n", b"").replace(b"\n", b"")  # base64 and folded headers are wrapped
        for text in (data, flat) if flat != data else (data,):
            for m in self.regex.finditer(text) if self.regex else ():
                found.append((self.patterns[m.group(0)], m.group(0)))
            for m in BCRYPT.finditer(text):
                found.append(("a bcrypt hash (secretHash)", m.group(0)))
        return list(dict.fromkeys(found))


def known_constants():
    """Secrets imported by name: the harvest must find at least these."""
    sys.path.insert(0, str(REPO / "Tests" / "handler"))
    import cgi_site
    return {cgi_site.TOKEN1, cgi_site.TOKEN2, cgi_site.WEBHOOK_KEY, cgi_site.CLIENT_SECRET}


def collect_secrets(basetemp, evidence):
    secrets = set()
    for path in python_sources():
        secrets |= harvest_constants(path)
    for root in filter(None, [basetemp, evidence]):
        for config in root.rglob("chathooks.json5"):
            secrets |= harvest_config(config)
    return secrets


def evidence_index(evidence: Path):
    """(kind, file, test node id) for what this session recorded."""
    index = evidence / "index.tsv"
    rows = []
    if index.exists():
        for line in index.read_text(encoding="utf-8").splitlines():
            pid, kind, rel, test = (line.split("\t") + [""] * 4)[:4]
            if pid == str(os.getpid()):
                rows.append((kind, rel, test))
    return rows


def test_scanner_finds_every_derived_form(tmp_path):
    """The matcher itself: a planted secret is found raw, escaped, encoded and in base64."""
    secret = "plant-Zq8yW3/+= \"x\"-0123456789"
    scanner = Scanner({secret})
    body = f"prefix {secret} suffix".encode()
    samples = [body, json.dumps({"m": secret}).encode(), urllib.parse.quote(secret, safe="").encode(),
               base64.encodebytes(b"Subject: hi\r\n\r\n" + secret.encode() + b" more"), secret.upper().encode(),
               secret[:20].encode()]
    for i in range(3):
        samples.append(base64.b64encode(b"x" * i + secret.encode() + b"tail"))
    for sample in samples:
        assert scanner.hits(sample), f"planted leak not found in {sample[:80]!r}"
    assert not scanner.hits(b"nothing to see here " * 100)
    assert Scanner(set()).hits(b"$2b$04$" + b"a" * 53), "a bcrypt hash is a leak too"


def test_no_secret_in_any_journal_log_or_response(request, tmp_path_factory):
    session = request.session
    last = session.items[-1]
    assert last.nodeid == request.node.nodeid, (
        f"run {Path(__file__).relative_to(REPO)} last (it is followed by {last.nodeid})")
    policy = request.config.getini("tmp_path_retention_policy")
    assert policy == "all", f"tmp_path_retention_policy={policy}: the journals in pytest's tmp folders would be gone"

    evidence = evidence_dir()
    assert evidence is not None and evidence.exists(), f"no evidence folder (${EVIDENCE_ENV}): nothing was recorded"
    basetemp = tmp_path_factory.getbasetemp()
    rows = evidence_index(evidence)

    # Every test module that ran before this one left evidence.
    mine = Path(__file__).resolve()
    ran = {}
    for item in session.items:
        if Path(item.path).resolve() != mine:
            ran.setdefault(item.nodeid.split("::")[0], []).append(item.nodeid)
    recorded = {test.split("::")[0] for _, _, test in rows}
    silent = sorted(m for m, ids in ran.items()
                    if m not in recorded and not all(i in NOT_RECORDING for i in ids))
    assert not silent, (f"these test modules ran but recorded no response, stderr or log for this check: {silent}; "
                        "read responses through the recording helpers (tools/stack.py record_evidence)")

    secrets = collect_secrets(basetemp, evidence)
    missing = known_constants() - secrets
    assert not missing, f"the secret harvest missed {missing}"
    scanner = Scanner(secrets)

    files = scanned_files(basetemp, evidence)
    total = 0
    leaks = []
    for path in files:
        data = path.read_bytes()
        total += len(data)
        for secret, form in scanner.hits(data):
            leaks.append(f"{path}: {secret!r} (as {form[:60]!r})")
    journals = [p for p in files if p.name == "journal.jsonl"]
    print(f"secrets check: {len(secrets)} secrets, {len(scanner.patterns)} forms; "
          f"{len(files)} files ({total} bytes) scanned, {len(journals)} journals, {len(rows)} recorded outputs")
    assert len(files) >= MIN_FILES and total >= MIN_BYTES, f"only {len(files)} files, {total} bytes scanned"
    assert journals, "no journal was scanned"
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks[:50])
