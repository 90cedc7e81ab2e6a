"""Many writers at once into one journal and one append-action file (fsync on):
exactly one intact line per 200, none for the refused requests (issue #9)."""
import threading

from durable import (MAX_BODY, TIMEOUT, BigBody, Outcome, Sent, fcgi_params, fcgi_post, ForkedFastCGI, alive,
                     note, probe_name, verify)

SIZES = [1 << 10, 16 << 10, 64 << 10, 256 << 10]


def refused_kinds(probe):
    """Requests that must be turned away before the journal: (what, body, token, announced length)."""
    good = BigBody(1 << 10).bytes(probe)
    return [
        ("wrong token", good, "wrong-token-000000000000", None),
        ("not JSON", good[: len(good) // 2], None, None),
        ("no chat_id", good.replace(b'"chat_id"', b'"chat_idx"'), None, None),
        ("too large", good, None, MAX_BODY + 1),
    ]


def plan(rng, valid, refused, prefix):
    """(Sent, body, token, length) for `valid` good requests and `refused` bad ones, shuffled."""
    bodies = {size: BigBody(size) for size in SIZES}
    items = []
    for i in range(valid):
        big = bodies[rng.choice(SIZES)]
        probe = probe_name(prefix, i)
        items.append((Sent(probe, big.expect(probe), note="valid"), big.bytes(probe), None, None))
    for i in range(refused):
        probe = probe_name(prefix + "x", i)
        what, body, token, length = rng.choice(refused_kinds(probe))
        items.append((Sent(probe, None, note=what), body, token, length))
    rng.shuffle(items)
    return items


def check_answers(items):
    for sent, _, _, _ in items:
        o = sent.outcome
        if sent.note == "valid":
            assert o.status == 200 and o.returncode == 0, (sent.probe, o.status, o.body, o.stderr[-500:])
        else:
            assert o.status is not None and 400 <= o.status < 500, (sent.probe, sent.note, o.status, o.body)


def test_200_cgi_processes_at_once_leave_one_intact_line_per_200(site, rng):
    items = plan(rng, 176, 24, "cgi")
    assert len(items) == 200
    # All 200 processes are started first; each waits for its body (the
    # token is checked, then stdin read). Then every body is sent at once.
    procs = []
    try:
        for sent, body, token, length in items:
            kw = {"token": token} if token else {}
            procs.append(site.popen("chatdealer-chat-end", len(body) if length is None else length, **kw))
        barrier = threading.Barrier(len(procs))

        def talk(proc, item):
            barrier.wait(timeout=TIMEOUT)
            out, err = proc.communicate(item[1], timeout=TIMEOUT * 2)
            item[0].outcome = Outcome.of(proc.returncode, out, err)

        threads = [threading.Thread(target=talk, args=(p, it)) for p, it in zip(procs, items)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=TIMEOUT * 3)
        assert not any(t.is_alive() for t in threads), "a request did not finish"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    check_answers(items)
    verify(site, [it[0] for it in items], "CGI 200 at once")
    site.discard()


def test_fastcgi_4_processes_and_32_clients_leave_one_intact_line_per_200(site, rng, tmp_path):
    per_client = 20
    items = plan(rng, 32 * per_client * 4 // 5, 32 * per_client // 5, "fcgi")
    servers = ForkedFastCGI(site, tmp_path / "fcgi.sock", tmp_path / "spawn-fcgi.log", children=4).start()
    try:
        barrier = threading.Barrier(32)

        def client(mine):
            barrier.wait(timeout=TIMEOUT)
            for sent, body, token, length in mine:
                params = fcgi_params(site, "chat-end", len(body) if length is None else length,
                                     **({"token": token} if token else {}))
                answer = fcgi_post(servers.sock, params, body)
                assert answer.ended, (sent.probe, answer.error)
                sent.outcome = answer.outcome()

        threads = [threading.Thread(target=client, args=(items[i::32],)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=TIMEOUT * 4)
        assert not any(t.is_alive() for t in threads), "a client did not finish"
        assert all(alive(p) for p in servers.pids), "a FastCGI process died under load"
    finally:
        servers.stop()
    assert not any(alive(p) for p in servers.pids)
    assert all(it[0].outcome is not None for it in items), "a client failed (see its exception above)"
    check_answers(items)
    note(f"FastCGI: {len(items)} requests from 32 clients to 4 processes (pids {servers.pids})")
    verify(site, [it[0] for it in items], "FastCGI 4x32")
    site.discard()
