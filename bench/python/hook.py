"""The same job as a chathooks Chat Dealer receiver, as a Python CGI script a
user would write (stdlib json, fcntl.flock). Run once per request by python3.
Settings come from the environment, as for the C program: HOOK_JOURNAL,
HOOK_FSYNC, HOOK_TOKEN, HOOK_MAX_BODY."""
import fcntl
import hmac
import json
import os
import re
import sys
import time
import calendar

DATE = re.compile(r"(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})\Z")
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Content Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


class Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def answer(status, body):
    data = (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    sys.stdout.buffer.write(b"Status: %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                            b"Content-Length: %d\r\n\r\n" % (status, REASONS[status].encode(), len(data)) + data)


def field(o, key):
    return o.get(key)  # missing or null: absent


def is_date(s):
    m = isinstance(s, str) and DATE.match(s)
    if not m:
        return False
    y, mo, d, h, mi, se = map(int, m.groups())
    return (y >= 1970 and 1 <= mo <= 12 and h < 24 and mi < 60 and se < 60
            and 1 <= d <= calendar.monthrange(y, mo)[1])


def check_string(o, path, key):
    v = field(o, key)
    if v is not None and not isinstance(v, str):
        raise Refused(400, "invalid_field", f"{path}{key}: must be a string")


def check_date(o, path, key, required=False):
    v = field(o, key)
    if v is None:
        if required:
            raise Refused(400, "invalid_field", f"{path}{key}: is required")
    elif not is_date(v):
        raise Refused(400, "invalid_field", f"{path}{key}: must be a date as yyyy/MM/dd HH:mm:ss")


def check_id(o, key, required=False):
    v = field(o, key)
    if v is None:
        if required:
            raise Refused(400, "invalid_field", f"{key}: is required")
    elif isinstance(v, bool) or not isinstance(v, (int, str)):
        raise Refused(400, "invalid_field", f"{key}: must be a string or a whole number")
    elif v == "":
        raise Refused(400, "invalid_field", f"{key}: must not be empty")


def check_message(o, path):
    t = field(o, "msg_type")
    if t is not None and (not isinstance(t, str) or t.strip(" \t") not in ("staff", "visitor", "system")):
        raise Refused(400, "invalid_field", f"{path}msg_type: must be staff, visitor or system")
    check_string(o, path, "post_user")
    check_date(o, path, "post_date")
    check_string(o, path, "msg")


def request_id(ms):
    """A ULID: 48 bits of milliseconds, 80 random bits, Crockford base 32."""
    v = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(ALPHABET[(v >> (5 * i)) & 31] for i in range(25, -1, -1))


def handle(env):
    event = env.get("SCRIPT_NAME", "").rsplit("/", 1)[-1]
    if event not in ("chat-message", "chat-end"):
        raise Refused(404, "not_found", "no receiver at this path")
    if env.get("REQUEST_METHOD") != "POST":
        raise Refused(405, "method_not_allowed", "only POST is accepted")
    token = env.get("HOOK_TOKEN", "")
    if not token:
        raise Refused(503, "not_configured", "no token is configured")
    presented = env.get("HTTP_X_CHATHOOKS_TOKEN")
    if presented is None:
        raise Refused(401, "unauthorized", "the X-Chathooks-Token header is missing")
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise Refused(401, "unauthorized", "the X-Chathooks-Token header does not hold an accepted token")
    length = env.get("CONTENT_LENGTH", "")
    if not length:
        raise Refused(411, "length_required", "a Content-Length header is required")
    if not length.isdigit():
        raise Refused(400, "invalid_length", "Content-Length must be a number of bytes")
    if int(length) > int(env.get("HOOK_MAX_BODY", "1048576")):
        raise Refused(413, "body_too_large", "the body is larger than the limit")
    body = sys.stdin.buffer.read(int(length))
    if len(body) != int(length):
        raise Refused(400, "truncated_body", "the body ended before Content-Length bytes")
    try:
        payload = json.loads(body)
    except ValueError as e:
        raise Refused(400, "invalid_json", f"the body is not valid JSON: {e}")
    if not isinstance(payload, dict) or not payload:
        raise Refused(400, "invalid_json", "the body must be a non-empty JSON object")

    check_date(payload, "", "event_date", required=True)
    check_id(payload, "chat_id", required=True)
    check_id(payload, "visitor_id")
    for key in ("visitor_key", "page_url", "page_title"):
        check_string(payload, "", key)
    if event == "chat-message":
        check_message(payload, "")
    else:
        check_date(payload, "", "start_date")
        check_date(payload, "", "end_date")
        detail = field(payload, "chat_detail")
        if detail is not None:
            if not isinstance(detail, list):
                raise Refused(400, "invalid_field", "chat_detail: must be an array")
            for i, message in enumerate(detail):
                if not isinstance(message, dict):
                    raise Refused(400, "invalid_field", f"chat_detail[{i}]: must be an object")
                check_message(message, f"chat_detail[{i}].")

    now = time.time_ns()
    ms = now // 1_000_000
    local = time.localtime(now // 1_000_000_000)
    offset = time.strftime("%z", local)
    rid = request_id(ms)
    record = {
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%S", local) + ".%03d" % (ms % 1000) + offset[:3] + ":" + offset[3:],
        "source": "chatdealer",
        "event": event,
        "request_id": rid,
        "remote_addr": env.get("REMOTE_ADDR", ""),
        "payload": payload,
    }
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    fd = os.open(env.get("HOOK_JOURNAL", "data/journal.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.write(fd, line) != len(line):
            raise Refused(500, "journal_failed", "the event could not be written to the journal")
        if env.get("HOOK_FSYNC") == "1":
            os.fsync(fd)
    finally:
        os.close(fd)
    return rid


def main():
    try:
        rid = handle(os.environ)
    except Refused as e:
        answer(e.status, {"ok": False, "error": e.code, "message": e.message})
        return
    answer(200, {"ok": True, "id": rid})


if __name__ == "__main__":
    main()
