#!/usr/bin/env python3
"""`make soak`: SOAK_SECONDS (default 600) of mixed traffic through real nginx
to one FastCGI `chathooks` process, with its memory and descriptors watched.

The stack is the integration tests' (tools/stack.py's NginxSpawnFcgi: the
shipped nginx/chathooks-fastcgi.conf, one `spawn-fcgi -n` process, nginx as
www-data when run as root), on 127.0.0.1. SOAK_CLIENTS threads (default 4),
each with a keep-alive connection, send a fixed random mix (seeded):

  accepted (200, one journal line each): all five Chat Dealer events from
    examples/samples/ (chat ids and messages varied, so chat-end appends to
    many per-chat files) and SPALO's dataset call (secretHash: bcrypt, cost 4);
  refused (nothing journaled): a wrong token (401), a body that is not JSON
    (400), a body over limits.maxBodyBytes (413).

Every SOAK_SAMPLE seconds (default 5) the FastCGI process's VmRSS
(/proc/PID/status) and open descriptors (/proc/PID/fd) are sampled. At the
end, required (exit status 1 otherwise, with the reason):

  - nothing lost: every request answered (no connection error, no timeout),
    each with the status its kind expects; no 5xx at all;
  - the journal holds exactly one line per 200, under the request id that
    the 200 gave (the body's "id", or X-Chathooks-Request-Id for SPALO), each
    id once, and nothing else;
  - the same process served it all (its pid did not change);
  - memory flat: the highest RSS of the last quarter of the samples is at
    most the highest of the second quarter + SOAK_RSS_SLACK_KIB (default
    1024). The first quarter is warm-up (caches, the heap's first growth);
    maxima, because a sample can land inside a request's allocations, and a
    leak shows as a maximum that keeps rising;
  - descriptors flat: the count with no request in flight is the same after
    the traffic as before it (exact), and no sample during it is more than 3
    above that (a request holds its connection, the journal and an action's
    file at most).

Then it prints a summary table. Every process started is stopped, pass or
fail; the work folder (logs, journal) is removed unless SOAK_KEEP=1 or the
soak failed.
"""
import hashlib
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import bcrypt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import stack  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "4"))
SAMPLE_EVERY = float(os.environ.get("SOAK_SAMPLE", "5"))
RSS_SLACK_KIB = int(os.environ.get("SOAK_RSS_SLACK_KIB", "1024"))
FD_IN_FLIGHT = 3          # descriptors a request may hold beyond the idle count
SEED = int(os.environ.get("SOAK_SEED", "9"))
TIMEOUT = 15              # seconds for any one request (nginx gives up on the process after 10)

TOKEN = "soak-token-0123456789abcdef"
SECRET = "soak-client-secret"
WEBHOOK_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"   # not the documentation's sample key (refused)
LIMIT = 65536             # limits.maxBodyBytes; the "too large" body is bigger, and under nginx's 2m

EVENTS = ["chat-start", "chat-message", "chat-end", "scenario", "form"]
# kind: (weight, expected status). The accepted kinds first.
MIX = {"chat-start": (10, 200), "chat-message": (40, 200), "chat-end": (10, 200), "scenario": (10, 200),
       "form": (8, 200), "dataset": (10, 200),
       "bad-token": (5, 401), "bad-json": (4, 400), "too-large": (3, 413)}


def say(*words):
    print("soak:", *words, flush=True)


def config_text():
    config = (REPO / "examples" / "chathooks.json5").read_text(encoding="utf-8")
    config = (config.replace("change-me-to-a-long-random-token", TOKEN)
              .replace("change-me-to-your-webhook-key", WEBHOOK_KEY)
              .replace("change-me-to-your-client-secret", SECRET)
              .replace("fsync: true", "fsync: false"))
    assert "maxBodyBytes: 1048576" in config and "fsync: false" in config
    return config.replace("maxBodyBytes: 1048576", f"maxBodyBytes: {LIMIT}")


def sample_body(name):
    return json.loads((REPO / "examples" / "samples" / f"{name}.json").read_text(encoding="utf-8"))


class Traffic:
    """What the clients send; every answer kept for the checks."""

    def __init__(self, port):
        self.port = port
        self.samples = {e: sample_body(e) for e in EVENTS}
        self.dataset = sample_body("dataset")
        self.dataset["webhookKey"] = WEBHOOK_KEY
        # A few hashes made once: hashing per request would make the client the bottleneck.
        self.hashes = [bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
                       for _ in range(8)]
        self.too_large = json.dumps(dict(self.samples["chat-message"], msg="あ" * LIMIT), ensure_ascii=False).encode()
        kinds = list(MIX)
        self.kinds, self.weights = kinds, [MIX[k][0] for k in kinds]
        self.lock = threading.Lock()
        self.results = []   # (kind, expected, status or None, request id or None, seconds, error)
        self.stop = threading.Event()

    def request(self, kind, rng, n):
        """(path, body bytes, headers) of one request of this kind."""
        headers = {"Content-Type": "application/json", "X-Chathooks-Token": TOKEN}
        if kind == "dataset":
            body = dict(self.dataset, secretHash=rng.choice(self.hashes), eventTime=time.strftime("%Y-%m-%d %H:%M:%S"))
            del headers["X-Chathooks-Token"]
            return "/hooks/spalo/dataset", json.dumps(body, ensure_ascii=False).encode(), headers
        event = kind if kind in EVENTS else "chat-message"
        body = dict(self.samples[event])
        body["chat_id"] = str(20000 + rng.randrange(300))   # chat-end: one file per chat
        if "msg" in body:
            body["msg"] = f"soak {n} " + "こんにちは" * rng.randrange(1, 40)
        data = json.dumps(body, ensure_ascii=False).encode()
        if kind == "bad-token":
            headers["X-Chathooks-Token"] = "not-the-token"
        elif kind == "bad-json":
            data = data[:-7] + b",,]"
        elif kind == "too-large":
            data = self.too_large
        return f"/hooks/chatdealer/{event}", data, headers

    def client(self, index):
        rng = random.Random(SEED * 1000 + index)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        n = 0
        while not self.stop.is_set():
            n += 1
            kind = rng.choices(self.kinds, self.weights)[0]
            path, data, headers = self.request(kind, rng, n)
            started = time.monotonic()
            status, rid, error = None, None, None
            try:
                conn.request("POST", path, body=data, headers=headers)
                r = conn.getresponse()
                answer = r.read()
                status = r.status
                if status == 200:
                    rid = r.getheader("X-Chathooks-Request-Id") if kind == "dataset" else json.loads(answer).get("id")
                    if rid is None:
                        error = f"a 200 without a request id: {answer[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as e:
                error = f"{type(e).__name__}: {e}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            with self.lock:
                self.results.append((kind, MIX[kind][1], status, rid, time.monotonic() - started, error))
        conn.close()


def process_sample(pid):
    rss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def wait_idle_fds(pid, seconds=2.0):
    """The descriptor count once nothing is in flight (the same twice, 0.2 s apart)."""
    deadline = time.monotonic() + seconds
    last = process_sample(pid)[1]
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = process_sample(pid)[1]
        if now == last:
            return now
        last = now
    return last


def journal_ids(path, skip):
    """({request id: lines}, lines) of the journal after its first `skip` lines, read as a stream."""
    counts, n = {}, 0
    try:
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                if n > skip:
                    rid = json.loads(line)["request_id"]
                    counts[rid] = counts.get(rid, 0) + 1
    except FileNotFoundError:
        pass
    return counts, max(0, n - skip)


def quarter(values, q):
    n = len(values)
    return values[q * n // 4:(q + 1) * n // 4]


def main():
    bin_dir = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
    work = Path(tempfile.mkdtemp(prefix="chathooks-soak-"))
    os.chmod(work, 0o755)
    site = stack.Site(work / "site", config_text(), bin_dir=bin_dir)
    fastcgi = stack.NginxSpawnFcgi(site)
    failures, samples = [], []
    traffic = None
    try:
        fastcgi.start()
        proc = fastcgi.fastcgi["chathooks"]
        pid = proc.pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0].endswith(b"/chathooks"), "spawn-fcgi -n did not exec chathooks"
        digest = hashlib.sha256((site.root / "bin" / "chathooks").read_bytes()).hexdigest()
        say(f"nginx on 127.0.0.1:{fastcgi.port}, FastCGI chathooks pid {pid} ({bin_dir / 'chathooks'}, "
            f"sha256 {digest[:16]}…), "
            f"{CLIENTS} clients, {SECONDS:.0f} s, a sample every {SAMPLE_EVERY:g} s; work folder {work}")
        traffic = Traffic(fastcgi.port)
        # One request of each kind first (the config is read, the journal and folders made), then idle.
        warm = random.Random(SEED)
        for kind in MIX:
            path, data, headers = traffic.request(kind, warm, 0)
            conn = http.client.HTTPConnection("127.0.0.1", fastcgi.port, timeout=TIMEOUT)
            conn.request("POST", path, body=data, headers=headers)
            r = conn.getresponse()
            answer = r.read()
            conn.close()
            if r.status != MIX[kind][1]:
                raise RuntimeError(f"warm-up {kind}: {r.status} (expected {MIX[kind][1]}): {answer[:300]!r}")
        warm_lines = journal_ids(site.journal, 0)[1]
        fds_before = wait_idle_fds(pid)

        threads = [threading.Thread(target=traffic.client, args=(i,), daemon=True) for i in range(CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        next_sample = started
        last_report = started
        while time.monotonic() - started < SECONDS:
            now = time.monotonic()
            if now >= next_sample:
                rss, fds = process_sample(pid)
                samples.append((now - started, rss, fds, len(traffic.results)))
                next_sample += SAMPLE_EVERY
            if now - last_report >= 60:
                last_report = now
                _, rss, fds, n = samples[-1]
                say(f"  {now - started:4.0f} s: {n} requests, RSS {rss} KiB, {fds} fds")
            time.sleep(min(0.2, max(0.0, next_sample - time.monotonic())))
        traffic.stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT + 5)
            if t.is_alive():
                failures.append("a client thread did not finish")
        elapsed = time.monotonic() - started
        rss, fds = process_sample(pid)
        samples.append((elapsed, rss, fds, len(traffic.results)))
        fds_after = wait_idle_fds(pid)
        rss_end = process_sample(pid)[0]
        if proc.poll() is not None or not Path(f"/proc/{pid}").exists():
            failures.append(f"the FastCGI process {pid} is gone")
        errors_log = fastcgi.error_log()
    finally:
        if traffic:
            traffic.stop.set()
        fastcgi.stop()

    results = traffic.results
    # ---- nothing lost, every status as expected
    lost = [r for r in results if r[5] is not None]
    five = [r for r in results if r[2] is not None and r[2] >= 500]
    wrong = [r for r in results if r[5] is None and r[2] != r[1]]
    if lost:
        failures.append(f"{len(lost)} requests lost or malformed, e.g. {lost[0][0]}: {lost[0][5]}")
    if five:
        failures.append(f"{len(five)} answers 5xx, e.g. {five[0][0]}: {five[0][2]}")
    if wrong:
        failures.append(f"{len(wrong)} answers with the wrong status, e.g. {wrong[0][0]}: {wrong[0][2]} "
                        f"(expected {wrong[0][1]})")
    # ---- the journal: one line per 200, under its id, nothing else
    ids = [r[3] for r in results if r[2] == 200 and r[3]]
    journaled, journal_lines = journal_ids(site.journal, warm_lines)
    missing = [i for i in ids if i not in journaled]
    twice = [i for i, c in journaled.items() if c != 1]
    extra = set(journaled) - set(ids)
    if missing:
        failures.append(f"{len(missing)} accepted requests not in the journal, e.g. {missing[0]}")
    if twice:
        failures.append(f"{len(twice)} request ids in the journal more than once, e.g. {twice[0]}")
    if extra:
        failures.append(f"{len(extra)} journal lines no 200 answered for, e.g. {sorted(extra)[0]}")
    if len(set(ids)) != len(ids):
        failures.append("the same request id was answered twice")
    # ---- memory and descriptors
    rss_values = [s[1] for s in samples]
    fd_values = [s[2] for s in samples]
    if len(samples) >= 8:
        q2, q4 = max(quarter(rss_values, 1)), max(quarter(rss_values, 3))
        if q4 > q2 + RSS_SLACK_KIB:
            failures.append(f"RSS grew: last quarter's highest {q4} KiB > second quarter's {q2} KiB + "
                            f"{RSS_SLACK_KIB} KiB")
    else:
        q2 = q4 = None
        failures.append(f"only {len(samples)} samples: SOAK_SECONDS / SOAK_SAMPLE must give at least 8")
    if fds_after != fds_before:
        failures.append(f"open descriptors at idle: {fds_before} before the traffic, {fds_after} after")
    if max(fd_values) > fds_before + FD_IN_FLIGHT:
        failures.append(f"open descriptors reached {max(fd_values)} during the traffic (idle: {fds_before})")

    # ---- the summary
    print()
    print(f"Soak: {elapsed:.0f} s, {CLIENTS} clients, {len(results)} requests "
          f"({len(results) / elapsed:.0f}/s), one FastCGI process behind nginx")
    print()
    print("| kind | expected | sent | answered as expected | other answers | lost | median ms | p99 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in MIX:
        rows = [r for r in results if r[0] == kind]
        if not rows:
            continue
        ok = sum(1 for r in rows if r[5] is None and r[2] == r[1])
        other = {}
        for r in rows:
            if r[5] is None and r[2] != r[1]:
                other[r[2]] = other.get(r[2], 0) + 1
        times = sorted(r[4] * 1000 for r in rows)
        print(f"| {kind} | {MIX[kind][1]} | {len(rows)} | {ok} | "
              f"{', '.join(f'{k}: {v}' for k, v in sorted(other.items())) or '-'} | "
              f"{sum(1 for r in rows if r[5] is not None)} | {statistics.median(times):.1f} | "
              f"{times[min(len(times) - 1, int(0.99 * len(times)))]:.1f} |")
    print()
    print(f"Journal: {journal_lines} lines for {len(ids)} answers 200 ({len(set(journaled))} distinct ids).")
    print()
    print("| | RSS KiB (min / max) | open fds (min / max) | samples |")
    print("| --- | --- | --- | --- |")
    for q, name in enumerate(["1st quarter (warm-up)", "2nd quarter", "3rd quarter", "4th quarter"]):
        r, f = quarter(rss_values, q), quarter(fd_values, q)
        if r:
            print(f"| {name} | {min(r)} / {max(r)} | {min(f)} / {max(f)} | {len(r)} |")
    print()
    print(f"Descriptors at idle: {fds_before} before, {fds_after} after. RSS at the end (idle): {rss_end} KiB.")
    if q2 is not None:
        print(f"RSS: last quarter's highest {q4} KiB; allowed: second quarter's highest {q2} KiB + "
              f"{RSS_SLACK_KIB} KiB = {q2 + RSS_SLACK_KIB} KiB.")
    print()
    crit = [line for line in errors_log.splitlines() if "[crit]" in line or "[alert]" in line or "[emerg]" in line]
    if crit:
        failures.append(f"nginx logged {len(crit)} critical errors, e.g. {crit[0][:200]}")
    if failures:
        print("FAILED:")
        for f in failures:
            print(f"  - {f}")
        print(f"(logs and journal kept in {work})")
        return 1
    print("passed: nothing lost, no 5xx, every 200 journaled once, RSS and descriptors flat")
    if os.environ.get("SOAK_KEEP") == "1":
        print(f"(work folder kept: {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
