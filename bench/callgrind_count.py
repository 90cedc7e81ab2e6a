"""Instructions of one CGI request, counted by callgrind: the one way of
running a request under `valgrind --tool=callgrind` that `make bench`
(bench/run.py) and the instruction budget (Tests/guards/) share.

`request_env` is the request's meta-variables as a web server would pass them
(the environment is exactly this, nothing inherited); `count` runs one
process under callgrind with the body on stdin and returns callgrind's
"Collected" total with what the process wrote, so a caller can check that the
request was answered and not merely cheap.
"""
import re
import subprocess
from dataclasses import dataclass

COLLECTED = re.compile(rb"Collected : (\d+)")


def request_env(route, content_length, token, extra=None):
    """A POST's CGI meta-variables (RFC 3875) for `route`, and `extra` on top."""
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "SERVER_NAME": "localhost", "SERVER_PORT": "80", "REQUEST_METHOD": "POST",
           "REQUEST_URI": route, "SCRIPT_NAME": route, "CONTENT_TYPE": "application/json",
           "CONTENT_LENGTH": str(content_length), "REMOTE_ADDR": "127.0.0.1",
           "HTTP_X_CHATHOOKS_TOKEN": token}
    env.update(extra or {})
    return env


def argv(program_argv, out_file="/dev/null"):
    """The command line that runs `program_argv` under callgrind."""
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"] + [str(a) for a in program_argv]


@dataclass
class Counted:
    instructions: int  # None when callgrind printed no total
    returncode: int
    stdout: bytes      # what the program wrote (the CGI response)
    stderr: bytes      # the program's stderr and valgrind's


def count(program_argv, env, body_path, out_file="/dev/null", timeout=600):
    """One run of `program_argv` under callgrind, `body_path` on stdin, `env` as its whole environment."""
    with open(body_path, "rb") as stdin:
        p = subprocess.run(argv(program_argv, out_file), stdin=stdin, capture_output=True, env=env,
                           timeout=timeout)
    m = COLLECTED.search(p.stderr)
    return Counted(int(m.group(1)) if m else None, p.returncode, p.stdout, p.stderr)


# The Swift runtime's cache of generic type metadata: a hash map keyed by the
# addresses of type descriptors, so its probing costs more or less with every
# new link layout (±3,000 instructions a request, for no change in the code).
METADATA_CACHE = re.compile(r"ConcurrentReadableHashMap|MetadataCacheKey|GenericCacheEntry|MetadataAllocator")
ANNOTATE_LINE = re.compile(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*?)(\s\[.*)?$")


def metadata_cache_instructions(out_file):
    """Instructions spent in the runtime's metadata-cache hash map (exclusive
    cost of its functions), from a callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", str(out_file)], capture_output=True,
                         text=True, check=True).stdout
    total = 0
    for line in out.splitlines():
        m = ANNOTATE_LINE.match(line)
        if m and m.group(2) != "PROGRAM TOTALS" and METADATA_CACHE.search(m.group(2)):
            total += int(m.group(1).replace(",", ""))
    return total
