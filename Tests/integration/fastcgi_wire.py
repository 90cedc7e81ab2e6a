"""Just enough of the FastCGI wire format (fcgi spec 1.0) to play a web server
that goes away mid-request, which nginx itself never does."""
import socket
import struct

from stack import record_evidence

BEGIN_REQUEST, PARAMS, STDIN = 1, 4, 5
RESPONDER = 1


def record(kind, content, request_id=1):
    padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), padding, 0) + content + b"\0" * padding


def name_value(name: bytes, value: bytes):
    def length(n):
        return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
    return length(len(name)) + length(len(value)) + name + value


def send_partial_request(path, params, body_sent, timeout=10):
    """Begins a request, sends its parameters and only part of its body, then
    closes the connection without ever reading the answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0)))
        encoded = b"".join(name_value(k.encode(), v.encode()) for k, v in params.items())
        s.sendall(record(PARAMS, encoded) + record(PARAMS, b""))
        s.sendall(record(STDIN, body_sent))


STDOUT, END_REQUEST = 6, 3


class Conversation:
    """One request, sent piece by piece, then its answer read back."""

    def __init__(self, path, params, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.sock.sendall(record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0)))
        encoded = b"".join(name_value(k.encode(), v.encode()) for k, v in params.items())
        self.sock.sendall(record(PARAMS, encoded) + record(PARAMS, b""))

    def send_body(self, data, last=False):
        if data:
            self.sock.sendall(record(STDIN, data))
        if last:
            self.sock.sendall(record(STDIN, b""))

    def answer(self):
        """The STDOUT stream, up to END_REQUEST."""
        out, _, ended = read_streams(self.sock)
        if ended:
            self.sock.close()
        record_evidence("fastcgi-stdout", out)  # for Tests/zz_secrets
        return out


STDERR = 7


def read_streams(sock, out=None, err=None):
    """Reads records until END_REQUEST or the end of the connection: the
    STDOUT and STDERR contents (appended to the lists `out` and `err` as they
    come, when given), and whether END_REQUEST came."""
    out = [] if out is None else out
    err = [] if err is None else err
    buffer = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(out), b"".join(err), False
        buffer += chunk
        while len(buffer) >= 8:
            _, kind, _, length, padding, _ = struct.unpack(">BBHHBB", buffer[:8])
            if len(buffer) < 8 + length + padding:
                break
            content, buffer = buffer[8:8 + length], buffer[8 + length + padding:]
            if kind == STDOUT:
                out.append(content)
            elif kind == STDERR:
                err.append(content)
            elif kind == END_REQUEST:
                return b"".join(out), b"".join(err), True
