"""What the release link must have done (issue #9), checked on the built
executables, so that a toolchain that renames or moves the Swift runtime's
symbols is noticed instead of silently slowing every request:

- Sources/CStartup/startup.c's definitions of `_swift_stdlib_getUnsafeArgvArgc`,
  `_swift_stdlib_overrideUnsafeArgvArgc` and `swift_copyAuxiliaryExecutablePath`
  are the ones linked, and the runtime's CommandLine.cpp.o (argv from a parse
  of /proc/self/maps before main) and Paths.cpp.o (the search for the
  swift-backtrace helper) are not linked at all: none of the symbols that only
  those two objects define is in the executable. The list is fixed below (from
  Swift 6.3.1's libswiftCore.a) and, when the toolchain's libswiftCore.a is
  found, also read from it, which also checks that the runtime still defines
  the names we override in those objects (a rename would leave ours unused).
- libfcgi's accept() goes to `__wrap_accept` (Sources/CStartup/accept_timeout.c,
  `--wrap=accept` in Package.swift): glibc's accept is not linked, and
  libfcgi's OS_Accept calls `__wrap_accept`.
- Each executable is static: no program interpreter (readelf -l), and ldd
  says "not a dynamic executable".
- What the process does, not only what is linked: under strace, a handler
  opens no /proc/self/maps and looks for no swift-backtrace (nor its
  libexec/swift folders).

Needs binutils (nm, readelf, objdump) and strace.
"""
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
from stack import HANDLERS, record_evidence  # noqa: E402

BIN_DIR = Path(os.environ.get("CHATHOOKS_BIN_DIR") or REPO / ".build" / "release")
EXECUTABLES = HANDLERS + ["chathooks"]

# Ours (Sources/CStartup/startup.c): must be defined, as global text.
OVERRIDES = {
    "CommandLine.cpp.o": ["_swift_stdlib_getUnsafeArgvArgc", "_swift_stdlib_overrideUnsafeArgvArgc"],
    "Paths.cpp.o": ["swift_copyAuxiliaryExecutablePath"],
}
# startup.c's own static symbols: the overrides above are the ones from that file.
OURS = ["chathooks_grab_argv", "chathooks_grab_argv_entry", "saved_argv", "saved_argc"]
# Defined only by the runtime's objects (nm of libswiftCore.a, Swift 6.3.1): the
# static initializer that reads /proc/self/maps and its state, and Paths.cpp's
# other entry points and helpers. Any of them in an executable means the
# object was linked.
RUNTIME_ONLY = {
    "CommandLine.cpp.o": [
        "_GLOBAL__sub_I_CommandLine.cpp",                 # the initializer run before main
        "_ZN12_GLOBAL__N_111argvGrabberE.0",              # (anonymous)::argvGrabber
        "_ZN12_GLOBAL__N_111argvGrabberE.1",
        "_ZL39_swift_stdlib_ProcessOverrideUnsafeArgc",
        "_ZL39_swift_stdlib_ProcessOverrideUnsafeArgv",
        "_ZZ31_swift_stdlib_getUnsafeArgvArgcE9emptyArgv",
    ],
    "Paths.cpp.o": [
        "swift_getRootPath",
        "swift_getRuntimeLibraryPath",
        "_ZN12_GLOBAL__N_120_swift_tryAuxExePathEPKcS1_z",  # (anonymous)::_swift_tryAuxExePath
        "_ZN12_GLOBAL__N_119_swift_initRootPathEPv",
        "_ZN12_GLOBAL__N_122_swift_initRuntimePathEPv",
        "_ZN12_GLOBAL__N_116_swift_joinPathsEPKcz",
        "_ZN12_GLOBAL__N_18rootPathE",
        "_ZN12_GLOBAL__N_111runtimePathE",
        "_ZN12_GLOBAL__N_113rootPathTokenE",
        "_ZN12_GLOBAL__N_116runtimePathTokenE",
    ],
}
# Ours returns NULL at once (a few bytes); the runtime's searches (hundreds).
MAX_OUR_AUX_PATH_SIZE = 16


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (scripts/deps.sh installs it)", pytrace=False)
    return path


def executable(name):
    path = BIN_DIR / name
    if not path.is_file():
        pytest.fail(f"{path} is not built", pytrace=False)
    return path


@functools.lru_cache(maxsize=None)
def symbols(path):
    """{name: [(type letter, size)]} from nm -S (every definition, globals and locals)."""
    out = subprocess.run([tool("nm"), "-S", str(path)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            _, size, kind, name = parts
        elif len(parts) == 3 and len(parts[1]) == 1:
            size, kind, name = "0", parts[1], parts[2]
        else:
            continue  # undefined: "U name"
        table.setdefault(name, []).append((kind, int(size, 16)))
    return table


def runtime_archive():
    swift = shutil.which("swift")
    if not swift:
        return None
    path = Path(swift).resolve().parent.parent / "lib" / "swift_static" / "linux" / "libswiftCore.a"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=None)
def archive_listing(archive):
    return subprocess.run([tool("nm"), "-A", str(archive)], capture_output=True, text=True).stdout


def archive_member_symbols(archive, member):
    """Names defined by one object in a static library; None when it has no such object."""
    out = archive_listing(archive)
    names, seen = set(), False
    for line in out.splitlines():
        m = re.match(r".*?:([^:]+):\s*(?:[0-9a-f]+\s+)?([A-Za-z])\s+(\S+)$", line)
        if not m or m.group(1) != member:
            continue
        seen = True
        if m.group(2) != "U" and not m.group(3).startswith(".L"):
            names.add(m.group(3))
    return names if seen else None


@pytest.fixture(scope="module")
def runtime_only():
    """RUNTIME_ONLY, plus what the toolchain's own objects define today."""
    found = {member: set(names) for member, names in RUNTIME_ONLY.items()}
    archive = runtime_archive()
    if archive is None:
        return found
    for member, overridden in OVERRIDES.items():
        defined = archive_member_symbols(archive, member)
        assert defined is not None, (
            f"{archive} has no {member} any more: check that Sources/CStartup/startup.c still overrides "
            f"what the runtime runs at start-up (and update this test)")
        for name in overridden:
            assert name in defined, (
                f"{archive}'s {member} no longer defines {name}: startup.c's override of it is not used, "
                f"and the runtime's own start-up code runs again")
        found[member] |= defined - set(overridden)
    return found


@pytest.mark.parametrize("name", EXECUTABLES)
def test_startup_overrides_are_ours_and_the_runtime_objects_are_not_linked(name, runtime_only):
    table = symbols(executable(name))
    problems = []
    for member, overridden in OVERRIDES.items():
        for symbol in overridden:
            kinds = [k for k, _ in table.get(symbol, [])]
            if kinds != ["T"]:
                problems.append(f"{symbol} is {kinds or 'not defined'}, not startup.c's one global definition")
    problems += [f"startup.c's {s} is not linked" for s in OURS if s not in table]
    sizes = [size for _, size in table.get("swift_copyAuxiliaryExecutablePath", [])]
    if any(size > MAX_OUR_AUX_PATH_SIZE for size in sizes):
        problems.append(f"swift_copyAuxiliaryExecutablePath is {sizes} bytes: the runtime's search, "
                        f"not our 'not found'")
    for member, names in runtime_only.items():
        linked = sorted(n for n in names if n in table)
        if linked:
            problems.append(f"the runtime's {member} is linked (it defines {', '.join(linked)})")
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", EXECUTABLES)
def test_libfcgi_accept_goes_through_the_wrapper(name):
    path = executable(name)
    table = symbols(path)
    libfcgi = "FCGX_Accept_r" in table and "OS_Accept" in table
    assert libfcgi, f"{name}: libfcgi is not linked"
    wrapper = [k for k, _ in table.get("__wrap_accept", [])]
    plain = [s for s in ("accept", "__libc_accept", "__accept", "__real_accept") if s in table]
    assert wrapper == ["T"] and not plain, (
        f"{name}: __wrap_accept is {wrapper or 'not defined'}; linked as well: {plain or 'nothing'} "
        f"(libfcgi's accept() must be the wrapper only)")
    text = subprocess.run([tool("objdump"), "-d", "--no-show-raw-insn", "--disassemble=OS_Accept", str(path)],
                          capture_output=True, text=True, check=True).stdout
    calls = re.findall(r"\scall\s+[0-9a-f]+ <([^>]+)>", text)
    assert "__wrap_accept" in calls, f"{name}: libfcgi's OS_Accept does not call __wrap_accept (it calls {calls})"
    assert not any(re.fullmatch(r"(__libc_)?accept(@\S+)?", c) for c in calls), calls


@pytest.mark.parametrize("name", EXECUTABLES)
def test_executable_is_static(name):
    path = executable(name)
    headers = subprocess.run([tool("readelf"), "-lW", str(path)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in headers and "Requesting program interpreter" not in headers, f"{name}: {headers}"
    ldd = subprocess.run([tool("ldd"), str(path)], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr, f"{name}: ldd says {ldd.stdout}{ldd.stderr}"


@pytest.mark.parametrize("name", EXECUTABLES)
def test_process_start_reads_no_maps_and_seeks_no_backtracer(name, tmp_path):
    """The behaviour itself: whatever the symbols are called, the runtime's
    start-up shows as an open of /proc/self/maps and stats of swift-backtrace."""
    path = executable(name)
    trace = tmp_path / "strace.txt"
    argv = [tool("strace"), "-f", "-o", str(trace),
            "-e", "trace=open,openat,openat2,readlink,readlinkat,stat,lstat,newfstatat,statx,access,faccessat,"
                  "faccessat2,execve",
            str(path)]
    # A CGI GET (refused: 405) for a receiver; `check` of a missing config for the CLI.
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
           "SCRIPT_NAME": "/", "CHATHOOKS_CONFIG": str(tmp_path / "none.json5")}
    if name == "chathooks":
        argv += ["check", str(tmp_path / "none.json5")]
        env = {"PATH": "/usr/bin:/bin"}
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60)
    record_evidence("guard-stdout", p.stdout)
    record_evidence("guard-stderr", p.stderr)
    text = trace.read_text(errors="replace")
    assert "execve(" in text and "+++ exited with" in text, f"{name}: strace saw no run: {p.stderr[-500:]!r}"
    assert "/proc/self/maps" not in text, f"{name} opens /proc/self/maps at start-up:\n{text[-3000:]}"
    assert "swift-backtrace" not in text and "libexec/swift" not in text, (
        f"{name} looks for the swift-backtrace helper at start-up:\n{text[-3000:]}")
