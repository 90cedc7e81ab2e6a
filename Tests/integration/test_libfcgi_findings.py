"""What fuzzing found in libfcgi 2.4.2 (Tests/fuzz), shown on a real FastCGI
process. Each is a strict xfail: it passes while libfcgi has the fault and
fails (XPASS) once a fixed libfcgi is linked, so the marker can go. Both need
a peer that can write to the FastCGI socket: an HTTP client behind nginx or
Apache cannot send these records. (These ran as forked children inside
`swift test` at first; a fork among Swift Testing's threads could deadlock.)"""
import os
import socket
import time

import pytest

from stack import REPO
from itkit import running
from test_fastcgi_stall import OneFastCGIProcess, whole_request

CORPUS = REPO / "Tests" / "fuzz" / "corpus" / "fastcgi_records"


@pytest.fixture
def stack():
    with running(OneFastCGIProcess) as s:
        yield s


def send_and_close(path, data):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        # A blocking connect waits for room in the listen queue (with a
        # timeout it fails with EAGAIN once the one process falls behind).
        s.connect(str(path))
        s.settimeout(10)
        s.sendall(data)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="libfcgi 2.4.2 computes a PARAMS pair's nameLen + valueLen + 2 in an int: lengths that add up "
                          "past 2^31 make its Malloc assert, and the whole process aborts")
def test_params_whose_lengths_add_up_past_int32_do_not_kill_the_process(stack):
    assert whole_request(stack).startswith(b"Status: 200 OK")
    send_and_close(stack.sock, (CORPUS / "params-length-sum-overflow.bin").read_bytes())
    deadline = time.monotonic() + 30
    while stack.proc.poll() is None and time.monotonic() < deadline:
        try:
            if whole_request(stack).startswith(b"Status: 200 OK"):
                break  # the process survived and serves
        except OSError:
            pass
    assert stack.proc.poll() is None, f"the FastCGI process died (status {stack.proc.returncode})"


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="libfcgi 2.4.2 never frees the Params it allocates for an unknown management record")
def test_unknown_management_records_do_not_grow_the_process(stack):
    record = (CORPUS / "unknown-management-record.bin").read_bytes()
    pid = stack.proc.pid
    for _ in range(500):  # libfcgi's and malloc's own set-up first
        send_and_close(stack.sock, record)
    assert whole_request(stack).startswith(b"Status: 200 OK")
    before = rss_kib(pid)
    for _ in range(20_000):
        send_and_close(stack.sock, record)
    assert whole_request(stack).startswith(b"Status: 200 OK")  # all of them read by now
    grown = rss_kib(pid) - before
    # 20,000 leaked Params are about 1.3 MB.
    assert grown < 400, f"the process grew by {grown} KiB over 20,000 unknown management records"
