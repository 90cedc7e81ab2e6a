"""`make run`: serve the receivers on 127.0.0.1:$PORT through nginx + fcgiwrap,
on a demo config under ./run/, post one sample of each event, print the journal
and a curl line per endpoint, then serve until Ctrl-C."""
import fcntl
import json
import os
import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bcrypt  # noqa: E402

from stack import HANDLERS, REPO, NginxFcgiwrap, Site  # noqa: E402
from webclient import post  # noqa: E402

TOKEN = "demo-token-0123456789abcdef"
WEBHOOK_KEY = "D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0D3M0"
CLIENT_SECRET = "demo-client-secret"


def demo_config():
    text = (REPO / "examples" / "chathooks.json5").read_text(encoding="utf-8")
    text = (text.replace("change-me-to-a-long-random-token", TOKEN)
            .replace("change-me-to-your-webhook-key", WEBHOOK_KEY)
            .replace("change-me-to-your-client-secret", CLIENT_SECRET))
    return text


def sample(handler):
    name = "dataset" if handler == "spalo-dataset" else handler[len("chatdealer-"):]
    return json.loads((REPO / "examples" / "samples" / f"{name}.json").read_text(encoding="utf-8"))


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def main():
    port = int(os.environ.get("PORT", "8080"))
    root = REPO / "run"
    root.mkdir(exist_ok=True)
    # One `make run` at a time: a second would take over ./run/ (its socket,
    # its nginx.conf) from under the first.
    lock = open(root / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("make run: another `make run` is using ./run/ already; stop it first (Ctrl-C)")
    if not port_is_free(port):
        sys.exit(f"make run: 127.0.0.1:{port} is in use by another program; try PORT=9090 make run")
    site = Site(root, demo_config())
    stack = NginxFcgiwrap(site, port)
    stopping = []

    def stop(*_):
        if not stopping:
            stopping.append(True)
            print("\nstopping nginx and fcgiwrap …")
            stack.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
    except Exception as e:
        stack.stop()
        sys.exit(f"make run: could not start the servers: {e}")
    print(f"nginx + fcgiwrap serve the receivers on http://127.0.0.1:{port} (config: {site.config_path})\n")
    print("posting one sample of each event:")
    before = len(site.journal_lines())
    failures = 0
    for h in HANDLERS:
        body = sample(h)
        headers = {"Content-Type": "application/json"}
        if h == "spalo-dataset":
            body["webhookKey"] = WEBHOOK_KEY
            body["secretHash"] = bcrypt.hashpw(CLIENT_SECRET.encode(), bcrypt.gensalt(rounds=10, prefix=b"2a")).decode()
        else:
            headers["X-Chathooks-Token"] = TOKEN
        r = post(stack.url(h), body, headers)
        failures += r.status != 200
        print(f"  {r.status} {stack.url(h)}  {r.body.decode(errors='replace').strip()}")
    if failures:
        stack.stop()
        sys.exit(f"make run: {failures} sample(s) were not accepted; see {root}/logs/error.log")
    print(f"\njournal ({site.journal}), the lines just added:")
    for line in site.journal_lines()[before:]:
        print("  " + line)
    print("\ntry it yourself (from this folder; -i shows the status):")
    for h in HANDLERS[:-1]:
        name = h[len("chatdealer-"):]
        print(f"  curl -sS -i -H 'X-Chathooks-Token: {TOKEN}' -H 'Content-Type: application/json' "
              f"--data-binary @examples/samples/{name}.json {stack.url(h)}")
    print("  # spalo/dataset wants its webhookKey and a fresh bcrypt secretHash of the client secret:")
    print(f"  python3 -c \"import bcrypt,json; d=json.load(open('examples/samples/dataset.json')); d['webhookKey']='{WEBHOOK_KEY}'; "
          f"d['secretHash']=bcrypt.hashpw(b'{CLIENT_SECRET}', bcrypt.gensalt(4)).decode(); print(json.dumps(d))\" "
          f"| curl -sS -i -H 'Content-Type: application/json' --data-binary @- {stack.url('spalo-dataset')}")
    print(f"\nlogs: {root}/logs/error.log — serving until Ctrl-C")
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
