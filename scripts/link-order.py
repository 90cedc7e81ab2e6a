#!/usr/bin/env python3
"""Writes scripts/link-order.txt: the functions a CGI request runs, in the
order it first runs them, for lld's --symbol-ordering-file (see
scripts/swift-build.sh). Run by `make link-order` after a release build; run
it again when the request path changes a lot (a stale file only costs speed).

Each Chat Dealer receiver answers its sample request (examples/samples/) once
under valgrind's callgrind, which names every function executed; the file is
their union, the chat-message request's first.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".build" / "release"
OUT = REPO / "scripts" / "link-order.txt"
EVENTS = ["chat-message", "chat-end", "chat-start", "scenario", "form"]
TOKEN = "link-order-token-0123456789abcdef"
FN = re.compile(r"^c?fn=\(\d+\)(?: (.+))?$")


def functions(callgrind_out):
    names = []
    for line in callgrind_out.read_text(errors="replace").splitlines():
        m = FN.match(line.strip())
        if not m or not m.group(1):
            continue
        name = m.group(1).strip().split("'")[0]  # callgrind marks recursion levels with 'N
        if name.startswith("0x") or name.startswith("("):
            continue
        names.append(name)
    return names


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "chathooks.json5"
        events = ", ".join(f'"{e}": {{ actions: [] }}' for e in EVENTS)
        config.write_text(f"""{{
  journal: {{ path: "{tmp}/journal.jsonl", fsync: false }},
  chatdealer: {{ auth: {{ header: "X-Chathooks-Token", tokens: ["{TOKEN}"] }}, events: {{ {events} }} }},
}}
""", encoding="utf-8")
        order, seen = [], set()
        for event in EVENTS:
            body = REPO / "examples" / "samples" / f"{event}.json"
            route = f"/hooks/chatdealer/{event}"
            env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST",
                   "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": route, "SCRIPT_NAME": route,
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(body.stat().st_size),
                   "REMOTE_ADDR": "127.0.0.1", "HTTP_X_CHATHOOKS_TOKEN": TOKEN, "CHATHOOKS_CONFIG": str(config)}
            out = tmp / f"callgrind.{event}"
            with open(body, "rb") as stdin:
                run = subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no", "--dump-instr=no",
                                      f"--callgrind-out-file={out}", str(BIN / f"chatdealer-{event}")],
                                     stdin=stdin, capture_output=True, env=env, timeout=120)
            if not run.stdout.startswith(b"Status: 200"):
                sys.exit(f"link-order: chatdealer-{event} did not answer 200:\n"
                         f"{run.stdout[:300].decode(errors='replace')}\n{run.stderr[-2000:].decode(errors='replace')}")
            for name in functions(out):
                if name not in seen:
                    seen.add(name)
                    order.append(name)
    OUT.write_text("\n".join(order) + "\n", encoding="utf-8")
    # SwiftPM does not know the order file is an input of the link: remove the
    # executables so that the next build links them again with it.
    for exe in BIN.iterdir():
        if exe.is_file() and os.access(exe, os.X_OK) and (exe.name.startswith(("chatdealer-", "spalo-")) or exe.name == "chathooks"):
            exe.unlink()
    print(f"link-order: {len(order)} functions in {OUT.relative_to(REPO)}; executables removed for relinking")


if __name__ == "__main__":
    main()
