"""The private PostgreSQL server that the sink's tests start (Tests/sink/pgserver.py):
it starts, the sink's role logs in with its password over the unix socket and over
TCP, and stop() leaves no postmaster behind."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from pgserver import DATABASE, ROLE, PostgresServer  # noqa: E402
from stack import record_evidence  # noqa: E402


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (Popen.wait reaps it; this is belt and braces).
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def test_server_answers_over_socket_and_tcp_then_stops():
    with PostgresServer() as pg:
        pid = pg.pid
        assert pid is not None and alive(pid)
        for via in ("unix", "tcp"):
            out = pg.psql("SELECT 1, current_user, current_database()", via=via, user=ROLE)
            record_evidence("cli-stdout", out.encode())
            assert out.strip() == f"1|{ROLE}|{DATABASE}", (via, out)
        out = pg.psql("SELECT 1")  # the superuser, over the socket without a password
        record_evidence("cli-stdout", out.encode())
        assert out.strip() == "1"
        pg.stop()
        assert pg.pid is None and not alive(pid)
    assert pg.base is None
