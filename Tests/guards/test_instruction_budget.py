"""The instruction budget of one chat-message CGI request (issue #9).

One request, run as `make bench` runs it (bench/callgrind_count.py: the same
meta-variables, config and compact sample body), under callgrind, which counts
every instruction the process executes: exact, not a timing. The count must
stay within the budget in budget.json (+tolerance); a count far below it
(-3×tolerance) fails too, so that the budget is lowered after an
optimisation and keeps guarding from there. Each measured request must have
been answered 200 {"ok":true} and have appended its journal line: a refused
request cannot pass as a cheap one.

Re-measure and write budget.json (after a change that is meant to cost more,
or less):

    CHATHOOKS_BIN_DIR=.build/release python3 Tests/guards/test_instruction_budget.py --update

What is pinned, so that the count repeats: the whole environment (nothing
inherited; TZ=JST-9, a POSIX rule, so no zone file is looked up), the body,
the config, a journal that already holds one line (the steady state: the
first request into a new journal also makes its folders), and the lengths of
every path the process sees (a fresh folder of fixed length with the
executable copied to bin/). What still varies is the request id, the time
and the hash seed: a few dozen instructions.

The executable is measured as a copy without its DWARF sections (objcopy
--strip-debug): valgrind 3.19 (Debian 12) gives up on the DWARF 5 that the
toolchain's clang writes for the C targets; the code executed is the same.
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tools"))
import callgrind_count  # noqa: E402
from cgi_reply import parse_cgi  # noqa: E402
from stack import record_evidence  # noqa: E402

BIN_DIR = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
BUDGET_FILE = Path(__file__).with_name("budget.json")
HANDLER = "chatdealer-chat-message"
EVENT = "chat-message"
TOKEN = "bench-token-0123456789abcdef"   # bench/run.py's
RUNS = 3                                  # counted runs per test; they must agree
MAX_SPREAD = 0.005                        # ... to within this share of the budget
UPDATE_COMMAND = "CHATHOOKS_BIN_DIR=.build/release python3 Tests/guards/test_instruction_budget.py --update"

CONFIG = """{{
  journal: {{ path: "{journal}", fsync: false }},
  limits: {{ maxBodyBytes: 1048576 }},
  chatdealer: {{
    auth: {{ header: "X-Chathooks-Token", tokens: ["{token}"] }},
    events: {{ "chat-message": {{ actions: [] }}, "chat-end": {{ actions: [] }} }},
  }},
}}
"""


def fail(message):
    """pytest's fail under pytest, SystemExit when run as a script."""
    if "pytest" in sys.modules:
        import pytest
        pytest.fail(message, pytrace=False)
    sys.exit(message)


def find_objcopy():
    for candidate in (shutil.which("objcopy"), shutil.which("llvm-objcopy"),
                      str(Path(shutil.which("swift") or "/nonexistent").parent / "llvm-objcopy")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    fail("neither objcopy (binutils) nor llvm-objcopy is installed")


class Request:
    """A folder of fixed-length name holding bin/<handler>, the config, the body and data/."""

    def __init__(self, apache=False):
        if shutil.which("valgrind") is None:
            fail("valgrind is not installed: make deps (scripts/deps.sh) installs it")
        executable = BIN_DIR / HANDLER
        if not executable.exists():
            fail(f"{executable} is not built")
        # mkdtemp's names have a fixed length: every path the handler sees does.
        self.root = Path(tempfile.mkdtemp(prefix="chathooks-budget-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        (self.root / "bin").mkdir()
        (self.root / "data").mkdir()
        self.executable = self.root / "bin" / HANDLER
        subprocess.run([find_objcopy(), "--strip-debug", str(executable), str(self.executable)], check=True)
        self.journal = self.root / "data" / "journal.jsonl"
        self.config = self.root / "chathooks.json5"
        self.config.write_text(CONFIG.format(journal=self.journal, token=TOKEN), encoding="utf-8")
        sample = json.loads((REPO / "examples" / "samples" / f"{EVENT}.json").read_text(encoding="utf-8"))
        self.payload = sample
        self.body = self.root / "body.json"
        self.body.write_bytes(json.dumps(sample, ensure_ascii=False, separators=(",", ":")).encode())
        self.env = callgrind_count.request_env(f"/hooks/chatdealer/{EVENT}", self.body.stat().st_size, TOKEN,
                                               {"CHATHOOKS_CONFIG": str(self.config), "TZ": "JST-9"})
        if apache:
            # Apache CGI from the bundle's folder: the receiver also checks that an
            # .htaccess denies its config (Config/ConfigExposure.swift).
            shutil.copy2(REPO / "apache" / "htaccess", self.root / ".htaccess")
            self.env.update(SERVER_SOFTWARE="Apache/2.4.57 (Debian)", DOCUMENT_ROOT=str(self.root),
                            SCRIPT_FILENAME=str(self.executable))

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def lines(self):
        try:
            return self.journal.read_bytes().splitlines()
        except FileNotFoundError:
            return []

    def check_answered(self, stdout, stderr, lines_before):
        """A 200 {"ok":true}, and one more journal line: this request's, holding the body."""
        record_evidence("budget-stdout", stdout)
        record_evidence("budget-stderr", stderr)
        status, _, _, body = parse_cgi(stdout)
        assert status == 200, f"the request was not accepted ({status}): {body[:300]!r} {stderr[-600:]!r}"
        answer = json.loads(body)
        assert answer.get("ok") is True, body
        lines = self.lines()
        assert len(lines) == lines_before + 1, f"{len(lines) - lines_before} journal lines for one request"
        last = json.loads(lines[-1])
        assert last["payload"] == self.payload, last
        assert (last["source"], last["event"]) == ("chatdealer", EVENT), last
        assert last["request_id"] == answer.get("id"), (last, answer)

    def plain_run(self):
        """Once without valgrind: the journal then exists (the steady state, as bench/run.py's verify)."""
        before = len(self.lines())
        with open(self.body, "rb") as stdin:
            p = subprocess.run([str(self.executable)], stdin=stdin, capture_output=True, env=self.env, timeout=30)
        assert p.returncode == 0, p.stderr
        self.check_answered(p.stdout, p.stderr, before)

    def counted_run(self):
        """The request's instructions, and those outside the runtime's metadata cache."""
        before = len(self.lines())
        out_file = self.root / "callgrind.out"
        r = callgrind_count.count([self.executable], self.env, self.body, out_file=out_file, timeout=120)
        if r.returncode != 0 or r.instructions is None:
            fail(f"callgrind failed (exit {r.returncode}): {r.stderr.decode(errors='replace')[-1500:]}")
        self.check_answered(r.stdout, r.stderr, before)
        outside = r.instructions - callgrind_count.metadata_cache_instructions(out_file)
        out_file.unlink()
        return r.instructions, outside


def measure(runs=RUNS, apache=False):
    """(totals, counts outside the metadata cache), one of each per run."""
    request = Request(apache)
    try:
        request.plain_run()
        pairs = [request.counted_run() for _ in range(runs)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    finally:
        request.close()


def load_budget(key="instructions"):
    budget = json.loads(BUDGET_FILE.read_text(encoding="utf-8"))
    return int(budget[key]), float(budget["tolerance"]), budget


def test_chat_message_request_stays_within_its_instruction_budget():
    totals, outside = measure()
    check(totals, *load_budget())
    check_outside(outside, "outside_metadata_cache")


def test_chat_message_request_under_apache_stays_within_its_instruction_budget():
    """The same request as Apache runs it from the bundle's folder, where the
    receiver also reads the .htaccess beside its config."""
    totals, outside = measure(apache=True)
    check(totals, *load_budget("apache_instructions"))
    check_outside(outside, "apache_outside_metadata_cache")


def check_outside(counts, key):
    """The count without the runtime's metadata-cache probing, which moves
    with the link layout: what the code itself costs, held to a tighter
    tolerance than the total."""
    budget = json.loads(BUDGET_FILE.read_text(encoding="utf-8"))
    check(counts, int(budget[key]), float(budget["outside_tolerance"]), budget,
          what="outside the Swift runtime's metadata cache")


def check(counts, budget, tolerance, info, what=""):
    spread = max(counts) - min(counts)
    assert spread <= MAX_SPREAD * budget, (
        f"the count does not repeat: {counts} (spread {spread}); something in the request varies "
        "from run to run, and the budget cannot guard it")
    count = max(counts)
    where = (f"budget {budget:,} instructions (±{tolerance:.0%}, measured at {info.get('commit', '?')}), "
             f"counted {counts}")
    if count > budget * (1 + tolerance):
        fail(f"one chat-message CGI request costs {count:,} instructions{' ' + what if what else ''}, {(count / budget - 1):+.1%} over the "
             f"{where}. Find what grew (bench/run.py's profile, or valgrind --tool=callgrind + "
             f"callgrind_annotate); if the cost is meant, re-measure and commit the new budget:\n    {UPDATE_COMMAND}")
    if count < budget * (1 - 3 * tolerance):
        fail(f"one chat-message CGI request costs {count:,} instructions{' ' + what if what else ''}, {(count / budget - 1):+.1%} under the "
             f"{where}: cheaper, or the measurement changed (the request was checked: answered 200 and "
             f"journaled). Lower the budget so that it keeps guarding:\n    {UPDATE_COMMAND}")


def update():
    counts, outside = measure(5)
    apache, apache_outside = measure(5, apache=True)
    _, tolerance, _ = load_budget() if BUDGET_FILE.exists() else (0, 0.03, {})
    git = lambda *a: subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()  # noqa: E731
    dirty = git("status", "--porcelain", "--", "Sources", "Package.swift", "scripts")
    digest = subprocess.run(["sha256sum", str(BIN_DIR / HANDLER)], capture_output=True, text=True).stdout.split()[0]
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    budget = {
        "what": "instructions of one chat-message CGI request (the compact sample body, journal "
                "already there, fsync off), counted by callgrind: Tests/guards/test_instruction_budget.py",
        "instructions": max(counts),
        "apache_instructions": max(apache),
        "apache_runs": apache,
        "tolerance": tolerance,
        "outside_metadata_cache": max(outside),
        "apache_outside_metadata_cache": max(apache_outside),
        "outside_tolerance": 0.01,
        "commit": (git("rev-parse", "--short", "HEAD") or "?") + (" with uncommitted changes" if dirty else ""),
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": counts,
        "sha256": digest,
        "valgrind": valgrind,
        "update": UPDATE_COMMAND,
        "note": ("Unrelated changes move the total by up to ~3,000 instructions: the Swift runtime's metadata "
                 "cache hashes type descriptors by address, so a new link layout changes its collisions. "
                 "The tolerance covers that; the count outside that cache (bench/callgrind_count.py) does "
                 "not move with the layout and is held to outside_tolerance."),
    }
    BUDGET_FILE.write_text(json.dumps(budget, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {BUDGET_FILE.relative_to(REPO)}: {max(counts):,} instructions (runs {counts}); "
          f"under Apache {max(apache):,} (runs {apache})")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE_COMMAND}\n(or run it as a test: python3 -m pytest {__file__})")
    update()
