"""SIGKILL at random points of a large event's write, each kill followed by a
normal event; then the same under a file-size limit (issue #9). Under CGI and
under FastCGI (a victim process killed and restarted, a survivor that lives
through it all; and a spawn-fcgi -F 4 pool losing children under load), and
among concurrent CGI writers. Whatever the kill point: every event that got a
200 is readable by every reader, the next event after a kill is whole (a
fragment left by the kill is ended with a newline, and reported at its
offset), a fragment never belongs to an acknowledged event, and a file-size
limit never kills a process (SIGXFSZ): it gets a 500 journal_failed and leaves
the files as they were."""
import os
import pwd
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from durable import (TIMEOUT, BigBody, DSite, FastCGIProcess, ForkedFastCGI, Outcome, Sent, alive,
                     assert_torn_report, check_new_line, check_torn_reports, fcgi_params, fcgi_post, kill_after, kill_when_growing,
                     note, pick_victim, probe_name, replay, run_cgi_maybe_killed, size_of, small_body, small_expect,
                     tail_info, unchanged, verify)

CGI_ROUNDS = 130
CGI_LIMIT_ROUNDS = 50
FCGI_ROUNDS = 100
FCGI_LIMIT_ROUNDS = 40
CONCURRENT_WAVES = 4
WAVE = 40
WAVE_KILLS = 8
SIZES = [1 << 20, 2 << 20, 3 << 20]  # "a few MB" of transcript


def bodies():
    return [BigBody(s) for s in SIZES]


def pick_mode(rng, weights):
    return rng.choices(list(weights), list(weights.values()))[0]


class Counter:
    def __init__(self):
        self.kills = self.late_200 = self.torn_next = self.limit_500 = self.mid_write = 0


def normal_event(sent, counter, probe, post):
    """A small event after a kill: answered 200, whole in both files at once.
    `post(body)` sends it (CGI or FastCGI) and returns its Outcome."""
    site = post.site
    before_j, before_a = tail_info(site.journal_path), tail_info(site.append_path)
    counter.torn_next += before_j[1] < before_j[0]
    o = post(small_body(probe))
    s = Sent(probe, small_expect(probe), o, note="normal event")
    sent.append(s)
    assert o.status == 200 and o.returncode == 0, (probe, o.returncode, o.status, o.body, o.stderr[-1000:])
    assert_torn_report(o.stderr, site.journal_path, before_j)
    assert_torn_report(o.stderr, site.append_path, before_a)
    check_new_line(site.journal_path, before_j, s.rid, s.expect)
    check_new_line(site.append_path, before_a, s.rid, s.expect)


def cgi_poster(site, preexec_fn=None):
    def post(body):
        return site.run(body, preexec_fn=preexec_fn)
    post.site = site
    return post


def fcgi_poster(site, sock):
    def post(body):
        answer = fcgi_post(sock, fcgi_params(site, "chat-end", len(body)), body)
        assert answer.ended, answer.error
        return answer.outcome()
    post.site = site
    return post


def file_size_limit(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def calibrate(site, big, sent, prefix):
    """One uncut run: how long a big event takes (the range for random delays); it must get a 200."""
    probe = probe_name(prefix, 9999)
    t0 = time.monotonic()
    o = site.run(big.bytes(probe))
    took = time.monotonic() - t0
    assert o.status == 200, (o.status, o.body, o.stderr)
    sent.append(Sent(probe, big.expect(probe), o, note="calibration"))
    return took


def test_cgi_sigkill_at_random_points_of_the_write(site, rng):
    big = bodies()
    sent, c = [], Counter()
    span = calibrate(site, big[-1], sent, "k")
    post = cgi_poster(site)
    weights = {"grow-journal": 50, "grow-append": 15, "delay": 30, "none": 5}
    for i in range(CGI_ROUNDS):
        b = rng.choice(big)
        probe = probe_name("k", i)
        mode = pick_mode(rng, weights)
        o = run_cgi_maybe_killed(site, b.bytes(probe), mode, rng, delay=rng.uniform(0, span * 1.2))
        s = Sent(probe, b.expect(probe), o, killed=o.returncode == -signal.SIGKILL, note=mode)
        sent.append(s)
        c.kills += s.killed
        assert o.returncode in (0, -signal.SIGKILL), (probe, o.returncode, o.stderr[-1000:])
        if s.killed:
            # A 200 can only come from a kill after the whole answer was written.
            c.late_200 += s.acknowledged
        else:
            assert o.status == 200, (probe, mode, o.status, o.body, o.stderr[-1000:])
        normal_event(sent, c, probe_name("n", i), post)
    verify(site, sent, "CGI kills")
    note(f"CGI kills: {c.kills} kills in {CGI_ROUNDS} rounds, {c.late_200} killed after their 200, "
         f"{c.torn_next} normal events found a torn last line")
    assert c.kills > 0, "no kill happened: the test tested nothing"
    site.discard()


def test_cgi_file_size_limit_and_sigkill(site, rng):
    big = bodies()
    sent, c = [], Counter()
    span = calibrate(site, big[0], sent, "L")
    weights = {"none": 50, "grow-journal": 30, "delay": 20}
    for i in range(CGI_LIMIT_ROUNDS):
        b = rng.choice(big)
        probe = probe_name("L", i)
        body = b.bytes(probe)
        # Room for at most half the line: it can never fit.
        limit = size_of(site.journal_path) + rng.randint(0, len(body) // 2)
        mode = pick_mode(rng, weights)
        before = unchanged(site, None)
        o = run_cgi_maybe_killed(site, body, mode, rng, delay=rng.uniform(0, span * 1.5),
                                 preexec_fn=file_size_limit(limit))
        s = Sent(probe, b.expect(probe), o, killed=o.returncode == -signal.SIGKILL, note=f"{mode} limit {limit}")
        sent.append(s)
        assert o.returncode != -signal.SIGXFSZ, f"{probe}: killed by SIGXFSZ (exit 153 in a shell)"
        assert o.returncode in (0, -signal.SIGKILL), (probe, o.returncode, o.stderr[-1000:])
        c.kills += s.killed
        if not s.killed:
            assert (o.status, o.code) == (500, "journal_failed"), (probe, o.status, o.body, o.stderr[-1000:])
            assert "File too large" in o.stderr, o.stderr
            unchanged(site, before)
            c.limit_500 += 1
        assert not s.acknowledged, f"{probe}: a 200 although its line cannot fit under the limit"
        # The next event, under a limit that leaves room, is whole.
        room = max(size_of(site.journal_path), size_of(site.append_path)) + (1 << 20)
        normal_event(sent, c, probe_name("m", i), cgi_poster(site, file_size_limit(room)))
    verify(site, sent, "CGI file-size limit")
    note(f"CGI file-size limit: {c.limit_500} answered 500 journal_failed, {c.kills} killed, "
         f"{c.torn_next} normal events found a torn last line")
    assert c.limit_500 > 0


def test_cgi_sigkill_among_concurrent_writers(site, rng):
    """Writers killed while they hold the journal open, with others waiting on
    its lock: the next holder finds the fragment and ends it."""
    sizes = [BigBody(256 << 10), BigBody(1 << 20)]
    sent, c = [], Counter()
    post = cgi_poster(site)
    normal_event(sent, c, probe_name("cn", 9999), post)
    for w in range(CONCURRENT_WAVES):
        wave, procs = [], []
        try:
            for i in range(WAVE):
                b = rng.choice(sizes)
                probe = probe_name(f"c{w}", i)
                body = b.bytes(probe)
                wave.append((Sent(probe, b.expect(probe), note=f"wave {w}"), body))
                procs.append(site.popen("chatdealer-chat-end", len(body)))
            barrier = threading.Barrier(len(procs) + 1)

            def talk(proc, item):
                barrier.wait(timeout=TIMEOUT)
                out, err = proc.communicate(item[1], timeout=TIMEOUT * 2)
                item[0].outcome = Outcome.of(proc.returncode, out, err)

            threads = [threading.Thread(target=talk, args=(p, it)) for p, it in zip(procs, wave)]
            for t in threads:
                t.start()
            barrier.wait(timeout=TIMEOUT)
            by_pid = {p.pid: p for p in procs}
            reasons = {}
            kills, end = {"mid-write": 0, "holder": 0}, time.monotonic() + TIMEOUT
            while sum(kills.values()) < WAVE_KILLS and any(t.is_alive() for t in threads) and time.monotonic() < end:
                victim, why = pick_victim([p.pid for p in procs if p.returncode is None], site.journal_path, rng,
                                          others=0.01 if kills["holder"] < 2 else 0)
                if victim is None:
                    continue
                by_pid[victim].send_signal(signal.SIGKILL)
                kills[why] += 1
                reasons.setdefault(victim, why)
            for t in threads:
                t.join(timeout=TIMEOUT * 3)
            assert not any(t.is_alive() for t in threads), "a request did not finish"
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for (s, _), p in zip(wave, procs):
            s.killed = s.outcome.returncode == -signal.SIGKILL
            c.mid_write += s.killed and reasons.get(p.pid) == "mid-write"
            c.kills += s.killed
            c.late_200 += s.killed and s.acknowledged
            if not s.killed:
                assert s.outcome.status == 200 and s.outcome.returncode == 0, (s.probe, s.outcome)
            sent.append(s)
        normal_event(sent, c, probe_name("cn", w), post)
    scans = verify(site, sent, "CGI kills among concurrent writers")
    reported = check_torn_reports(scans["journal"], [s.outcome.stderr for s in sent])
    note(f"CGI kills among concurrent writers: {c.kills} kills in {CONCURRENT_WAVES} waves of {WAVE} "
         f"({c.mid_write} of the lock holder while the file ended without a newline), "
         f"{reported} fragments reported by the writer that ended them")
    assert c.kills > 0, "no kill happened: the test tested nothing"
    site.discard()


def test_fastcgi_pool_children_killed_under_load(site, rng, tmp_path):
    """spawn-fcgi -F 4 on one socket, 16 clients; three of the children are
    killed while they have the journal open. Every answered request got a 200
    and is readable; at most one request per kill goes unanswered; the last
    child serves the next event whole."""
    pool = ForkedFastCGI(site, tmp_path / "pool.sock", tmp_path / "pool.log", children=4).start()
    sent, c = [], Counter()
    items = []
    try:
        post = fcgi_poster(site, pool.sock)
        normal_event(sent, c, probe_name("pn", 9999), post)
        bigs = [BigBody(512 << 10), BigBody(1 << 20)]
        for i in range(16 * 8):
            probe = probe_name("p", i)
            if rng.random() < 0.5:
                b = rng.choice(bigs)
                items.append((Sent(probe, b.expect(probe), note="big"), b.bytes(probe)))
            else:
                items.append((Sent(probe, small_expect(probe), note="small"), small_body(probe)))
        answers = {}

        def client(mine):
            for s, body in mine:
                answers[s.probe] = fcgi_post(pool.sock, fcgi_params(site, "chat-end", len(body)), body)

        threads = [threading.Thread(target=client, args=(items[i::16],)) for i in range(16)]
        for t in threads:
            t.start()
        killed, end = [], time.monotonic() + TIMEOUT
        while len(killed) < 3 and any(t.is_alive() for t in threads) and time.monotonic() < end:
            pid, why = pick_victim([p for p in pool.pids if p not in killed and alive(p)], site.journal_path, rng)
            if pid is None:
                continue
            os.kill(pid, signal.SIGKILL)
            c.mid_write += why == "mid-write"
            killed.append(pid)
            time.sleep(0.05)  # let the others take on the load
        for t in threads:
            t.join(timeout=TIMEOUT * 4)
        assert not any(t.is_alive() for t in threads), "a client hangs"
        unanswered = 0
        for s, _ in items:
            answer = answers[s.probe]
            s.outcome = answer.outcome()
            if not answer.ended:
                s.killed = True
                unanswered += 1
            else:
                assert s.outcome.status == 200, (s.probe, s.outcome.status, s.outcome.body)
            sent.append(s)
        assert unanswered <= len(killed), f"{unanswered} requests unanswered, but only {len(killed)} kills"
        survivors = [p for p in pool.pids if alive(p)]
        assert len(survivors) == 4 - len(killed), (pool.pids, killed, survivors)
        normal_event(sent, c, probe_name("pn", 0), post)
    finally:
        pool.stop()
    scans = verify(site, sent, "FastCGI pool kills")
    reported = check_torn_reports(scans["journal"], [s.outcome.stderr for s in sent])
    note(f"FastCGI pool: {len(killed)} children killed under load ({c.mid_write} mid-write), "
         f"{unanswered} requests unanswered, {reported} fragments reported by the writer that ended them")
    assert killed, "no child was killed: the test tested nothing"
    site.discard()


class FastCGIRounds:
    """A victim process that takes the big requests and is killed, restarted
    after each kill; a survivor that lives through the whole test."""

    def __init__(self, site, tmp_path):
        self.site = site
        self.victim = FastCGIProcess(site, tmp_path / "victim.sock", tmp_path / "victim.log")
        self.survivor = FastCGIProcess(site, tmp_path / "survivor.sock", tmp_path / "survivor.log")
        self.old = []

    def start(self):
        self.survivor.start()
        self.victim.start()
        return self

    def restart_victim(self):
        self.old.append(self.victim.proc)
        self.victim.start()

    def stop(self):
        for p in (self.victim, self.survivor):
            p.stop()
        for proc in self.old:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def poster(self, proc):
        return fcgi_poster(self.site, proc.sock)

    def big(self, body, mode, rng, delay):
        """The big request to the victim; killed per `mode`. (outcome, killed)"""
        result = {}
        client = threading.Thread(target=lambda: result.update(
            answer=fcgi_post(self.victim.sock, fcgi_params(self.site, "chat-end", len(body)), body)))
        client.start()
        done = lambda: not client.is_alive()  # noqa: E731
        pid = self.victim.pid
        if mode == "grow-journal":
            killed = kill_when_growing(pid, [self.site.journal_path], done, rng)
        elif mode == "grow-append":
            killed = kill_when_growing(pid, [self.site.append_path], done, rng)
        elif mode == "delay":
            killed = kill_after(pid, delay, done)
        else:
            killed = False
        if killed:
            self.victim.proc.wait(timeout=TIMEOUT)
        client.join(timeout=TIMEOUT)
        assert not client.is_alive(), "the FastCGI client hangs"
        answer = result["answer"]
        return answer.outcome(), killed, answer


@pytest.fixture
def fastcgi(site, tmp_path):
    rounds = FastCGIRounds(site, tmp_path).start()
    try:
        yield rounds
    finally:
        rounds.stop()


def test_fastcgi_sigkill_in_the_middle_of_large_requests(site, rng, fastcgi):
    big = bodies()
    sent, c = [], Counter()
    probe = probe_name("fk", 9999)
    t0 = time.monotonic()
    o, _, _ = fastcgi.big(big[-1].bytes(probe), "none", rng, 0)
    span = time.monotonic() - t0
    assert o.status == 200, o
    sent.append(Sent(probe, big[-1].expect(probe), o, note="calibration"))
    weights = {"grow-journal": 50, "grow-append": 15, "delay": 30, "none": 5}
    survivor_pid = fastcgi.survivor.pid
    for i in range(FCGI_ROUNDS):
        b = rng.choice(big)
        probe = probe_name("fk", i)
        mode = pick_mode(rng, weights)
        o, killed, answer = fastcgi.big(b.bytes(probe), mode, rng, rng.uniform(0, span * 1.2))
        s = Sent(probe, b.expect(probe), o, killed=killed, note=mode)
        sent.append(s)
        c.kills += killed
        if killed:
            c.late_200 += s.acknowledged
            fastcgi.restart_victim()
        else:
            assert answer.ended and o.status == 200, (probe, mode, answer.error, o.status, o.body)
        # Alternately to the process that saw nothing and to the fresh one.
        target = fastcgi.survivor if i % 2 == 0 else fastcgi.victim
        normal_event(sent, c, probe_name("fn", i), fastcgi.poster(target))
    assert fastcgi.survivor.pid == survivor_pid and alive(survivor_pid)
    verify(site, sent, "FastCGI kills")
    note(f"FastCGI kills: {c.kills} kills in {FCGI_ROUNDS} rounds, {c.late_200} killed after their 200, "
         f"{c.torn_next} normal events found a torn last line")
    assert c.kills > 0, "no kill happened: the test tested nothing"
    site.discard()


def test_fastcgi_file_size_limit_and_sigkill(site, rng, fastcgi):
    big = bodies()
    sent, c = [], Counter()
    weights = {"none": 50, "grow-journal": 30, "delay": 20}
    normal_event(sent, c, probe_name("fm", 9999), fastcgi.poster(fastcgi.victim))
    for i in range(FCGI_LIMIT_ROUNDS):
        b = rng.choice(big)
        probe = probe_name("fL", i)
        body = b.bytes(probe)
        size = size_of(site.journal_path)
        # Room for a few small events, never for the big line; set on the running process.
        limit = max(size, size_of(site.append_path)) + 8192 + rng.randint(0, len(body) // 2)
        pid = fastcgi.victim.pid
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        mode = pick_mode(rng, weights)
        before = unchanged(site, None)
        o, killed, answer = fastcgi.big(body, mode, rng, rng.uniform(0, 0.06))
        s = Sent(probe, b.expect(probe), o, killed=killed, note=f"{mode} limit {limit}")
        sent.append(s)
        c.kills += killed
        assert not s.acknowledged, f"{probe}: a 200 although its line cannot fit under the limit"
        if killed:
            fastcgi.restart_victim()
        else:
            if not answer.ended:
                try:
                    died = fastcgi.victim.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    died = None
                assert died != -signal.SIGXFSZ, f"{probe}: the FastCGI process was killed by SIGXFSZ"
                raise AssertionError(f"{probe}: no answer ({answer.error}); the process ended with {died}")
            assert fastcgi.victim.proc.poll() is None and alive(pid), \
                f"{probe}: the FastCGI process ended ({fastcgi.victim.proc.returncode}) after answering"
            assert (o.status, o.code) == (500, "journal_failed"), (probe, o.status, o.body, o.stderr[-1000:])
            assert "File too large" in o.stderr, o.stderr
            unchanged(site, before)
            c.limit_500 += 1
        # The next event goes to the same process, still under its limit (with room for it).
        normal_event(sent, c, probe_name("fm", i), fastcgi.poster(fastcgi.victim))
    verify(site, sent, "FastCGI file-size limit")
    note(f"FastCGI file-size limit: {c.limit_500} answered 500 journal_failed and lived on, {c.kills} killed, "
         f"{c.torn_next} normal events found a torn last line")
    assert c.limit_500 > 0


# ---------------------------------------------------------------- a journal the writer may not read

def service_user():
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the handler as another user")
    for name in ("www-data", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    pytest.skip("no www-data or nobody user")


class PromiseBroken(AssertionError):
    """An event answered 200 that the journal's readers do not find."""


def test_a_journal_the_handler_may_write_but_not_read_still_keeps_every_200(bin_dir, rng):
    user = service_user()
    with tempfile.TemporaryDirectory(prefix="chathooks-durability-") as tmp:
        os.chmod(tmp, 0o755)  # pytest's own tmp_path is not reachable by another user
        own_bin = Path(tmp) / "bin"
        own_bin.mkdir()
        for program in ("chatdealer-chat-end", "chathooks"):
            shutil.copy2(bin_dir / program, own_bin / program)
        site = DSite(Path(tmp) / "site", own_bin)
        os.chmod(site.config_path, 0o644)
        write_only_journal(site, user, rng)


def write_only_journal(site, user, rng):
    data = site.root / "data"
    data.mkdir()
    os.chown(data, user.pw_uid, user.pw_gid)
    as_user = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    sent, c = [], Counter()
    first = site.run(small_body(probe_name("w", 0)), **as_user)
    assert first.status == 200, first
    sent.append(Sent(probe_name("w", 0), small_expect(probe_name("w", 0)), first))
    # The journal is the handler's to write, not to read (a log set up so by hand).
    os.chmod(site.journal_path, 0o220)
    b = BigBody(2 << 20)
    for i in range(1, 40):  # real kills, until one leaves a fragment
        o = run_cgi_maybe_killed(site, b.bytes(probe_name("w", i)), "grow-journal", rng,
                                 preexec_fn=lambda: (os.setgid(user.pw_gid), os.setgroups([]), os.setuid(user.pw_uid)))
        sent.append(Sent(probe_name("w", i), b.expect(probe_name("w", i)), o,
                         killed=o.returncode == -signal.SIGKILL))
        size, start = tail_info(site.journal_path)
        if start < size:
            break
    else:
        pytest.skip("no kill landed mid-write in 40 tries")
    probe = probe_name("w", 99)
    o = site.run(small_body(probe), **as_user)
    sent.append(Sent(probe, small_expect(probe), o))
    assert o.status == 200, o
    found = replay(site, [o.rid])
    if found.found != {o.rid}:
        raise PromiseBroken(f"answered 200 as {o.rid}, but the product's reader does not find it: {found.stdout}"
                            f"{found.stderr}")
    verify(site, sent, "write-only journal", append=False)
