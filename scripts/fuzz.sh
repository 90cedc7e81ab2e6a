#!/usr/bin/env bash
# libFuzzer targets for the parts of ChatHooksCore that read what others send
# (issue #9): the request body decoder, form decoding, the config reader,
# FastCGI parameter handling, and libfcgi's reading of FastCGI records. Sources in Tests/fuzz/, seeds in
# Tests/fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh short            every target, ~15 s each (`make test`)
#   scripts/fuzz.sh long [SECONDS]   every target, SECONDS each (default 120; `make soak`)
#   scripts/fuzz.sh run TARGET [SECONDS] [libFuzzer flags…]   one target
#   scripts/fuzz.sh repro TARGET FILE…                         run inputs once
#   scripts/fuzz.sh build            build only
#
# Builds into .build-fuzz/ (never .build/: SwiftPM's folder is not touched):
# the core once as an instrumented module (-sanitize=fuzzer,address,
# -enable-testing), then one executable per target. Each run fuzzes a
# temporary copy of the seed corpus, so the repo's corpus is never rewritten;
# a long run leaves the inputs that add coverage in .build-fuzz/new-corpus/
# and prints how to add them. Exits non-zero when any target finds a crash, a
# broken invariant, a leak, a timeout or an out-of-memory, printing the
# reproducer's path (kept in .build-fuzz/findings/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.build-fuzz
TARGETS=(request_body form config fastcgi_params fastcgi_records)

if ! command -v swiftc >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swiftc ]; then PATH=/opt/swift/usr/bin:$PATH; fi
command -v swiftc >/dev/null 2>&1 || { echo "fuzz: no swiftc on PATH" >&2; exit 1; }
CC=$(command -v clang || true)
[ -n "$CC" ] || CC=$(dirname "$(command -v swiftc)")/clang

source_of() {
  case $1 in
    request_body) echo Tests/fuzz/RequestBodyFuzz.swift ;;
    form) echo Tests/fuzz/FormFuzz.swift ;;
    config) echo Tests/fuzz/ConfigFuzz.swift ;;
    fastcgi_params) echo Tests/fuzz/FastCGIParamsFuzz.swift ;;
    fastcgi_records) echo Tests/fuzz/FastCGIRecordsFuzz.swift ;;
    *) echo "fuzz: unknown target $1 (one of: ${TARGETS[*]})" >&2; exit 2 ;;
  esac
}

# True when $1 is missing or older than any of the files after it.
stale() {
  local out=$1; shift
  [ -e "$out" ] || return 0
  [ -n "$(find "$@" -newer "$out" -print -quit)" ]
}

build() {
  mkdir -p "$OUT/core" "$OUT/bin" "$OUT/modules/CStartup"
  local start=$SECONDS
  # SwiftPM makes CStartup's module map itself; a plain swiftc needs one.
  local map=$OUT/modules/CStartup/module.modulemap
  printf 'module CStartup {\n    header "%s/Sources/CStartup/include/CStartup.h"\n    export *\n}\n' "$ROOT" > "$map.new"
  if cmp -s "$map.new" "$map"; then rm "$map.new"; else mv "$map.new" "$map"; fi
  local includes=(-I Sources/CCrypt -I Sources/CFastCGI -I Sources/CSQLite -I "$OUT/modules/CStartup")
  # Swift 6 language mode, as Package.swift sets.
  local flags=(-sanitize=fuzzer,address -O -g -parse-as-library -swift-version 6)
  # Every C file of CStartup but startup.c. startup.c replaces libswiftCore's
  # argv lookup and its backtracer path search, which works for the static
  # release link (our object comes before libswiftCore.a, so that archive
  # member is never pulled). Here the runtime is the shared libswiftCore.so,
  # which keeps its own definitions: ours would interpose on them or not
  # depending on symbol export, and libFuzzer parses its own argv anyway.
  # `--wrap=accept` is not passed either: nothing here accepts a connection,
  # and __wrap_accept (accept_timeout.c) is then just an unused symbol.
  local c cobjs=()
  for c in Sources/CStartup/*.c; do
    [ "$(basename "$c")" = startup.c ] && continue
    local o=$OUT/core/$(basename "$c" .c).o
    cobjs+=("$o")
    if stale "$o" "$c" Sources/CStartup/include VERSION; then
      echo "fuzz: compiling $c"
      "$CC" -c -O2 -g -I Sources/CStartup/include -DCHATHOOKS_VERSION="\"$(tr -d '\n' < VERSION 2>/dev/null || echo unknown)\"" \
        "$c" -o "$o"
    fi
  done
  if stale "$OUT/core/ChatHooksCore.o" Sources/ChatHooksCore Sources/CStartup/include Sources/CCrypt Sources/CFastCGI Sources/CSQLite "$map"; then
    echo "fuzz: compiling ChatHooksCore (instrumented; about a minute)"
    local sources
    mapfile -t sources < <(find Sources/ChatHooksCore -name '*.swift' | sort)
    rm -f "$OUT/core/ChatHooksCore.o"
    swiftc "${flags[@]}" -wmo -enable-testing -module-name ChatHooksCore -package-name chathooks "${includes[@]}" \
      -emit-module -emit-module-path "$OUT/core/ChatHooksCore.swiftmodule" \
      -c -o "$OUT/core/ChatHooksCore.o.tmp" "${sources[@]}"
    mv "$OUT/core/ChatHooksCore.o.tmp" "$OUT/core/ChatHooksCore.o"
  fi
  # libfcgi and libxcrypt linked statically, as in the release
  # (scripts/deps.sh installs the .a files): the same code, and libfcgi's
  # own function names in sanitizer reports (the .so is stripped).
  # (As input files: an -l would come after the module maps' autolinked
  # -lfcgi, -lcrypt and -lsqlite3, which pick the shared libraries.)
  local clibs=() lib a
  for lib in fcgi crypt sqlite3; do
    a=$(ls /usr/lib/*/lib$lib.a 2>/dev/null | head -1 || true)
    if [ -n "$a" ]; then clibs+=("$a"); else clibs+=("-l$lib"); fi
  done
  local t src
  for t in "${TARGETS[@]}"; do
    src=$(source_of "$t")
    if stale "$OUT/bin/$t" "$src" Tests/fuzz/FuzzSupport.swift "$OUT/core/ChatHooksCore.o" "${cobjs[@]}"; then
      echo "fuzz: linking $t"
      # lld: gold prints a warning per ASan check symbol.
      swiftc "${flags[@]}" -use-ld=lld -module-name "fuzz_$t" -I "$OUT/core" "${includes[@]}" \
        Tests/fuzz/FuzzSupport.swift "$src" "$OUT/core/ChatHooksCore.o" "${cobjs[@]}" \
        "${clibs[@]}" -o "$OUT/bin/$t.tmp"
      mv "$OUT/bin/$t.tmp" "$OUT/bin/$t"
    fi
  done
  echo "fuzz: build done in $((SECONDS - start)) s"
}

# The Swift runtime's backtracer would catch the crash first (and trips ASan
# itself); libFuzzer's handler is the one that writes the reproducer.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/Tests/fuzz/lsan.supp:print_suppressions=0}
LIMITS=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=8192 -print_final_stats=1)

WORK=""
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT

# fuzz_one TARGET SECONDS MERGE(0|1) [flags…]: one run on a copy of the seeds.
FAILED=()
SUMMARY=()
fuzz_one() {
  local t=$1 secs=$2 merge=$3; shift 3
  local bin=$OUT/bin/$t seeds=$ROOT/Tests/fuzz/corpus/$t
  local dir=$WORK/$t
  mkdir -p "$dir/corpus" "$dir/artifacts" "$OUT/findings/$t" "$OUT/logs"
  [ -d "$seeds" ] && cp -R "$seeds/." "$dir/corpus/"
  local log=$OUT/logs/$t.log rc=0
  local dict=()
  [ -f "Tests/fuzz/$t.dict" ] && dict=(-dict="Tests/fuzz/$t.dict")
  # libfcgi allocates a parameter's announced length (up to 2 GiB) before
  # reading it: it trusts the web server. Allowed here, so that the target
  # keeps looking for what matters (overflows, leaks); the allocation is
  # not touched, so RSS stays within -rss_limit_mb.
  [ "$t" = fastcgi_records ] && dict+=(-malloc_limit_mb=4200)
  echo "fuzz: $t for ${secs} s ($(ls "$dir/corpus" | wc -l) seeds; log in ${log#$ROOT/})"
  # stdin is /dev/null: a config naming /dev/stdin as a secret file must not wait for a terminal.
  "$bin" "${LIMITS[@]}" "${dict[@]}" -max_total_time="$secs" -artifact_prefix="$dir/artifacts/" "$@" \
    "$dir/corpus" </dev/null >"$log" 2>&1 || rc=$?
  local execs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  local found=()
  local a
  for a in "$dir/artifacts/"*; do
    [ -e "$a" ] || continue
    cp "$a" "$OUT/findings/$t/"
    found+=("${OUT#$ROOT/}/findings/$t/$(basename "$a")")
  done
  if [ "$rc" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    FAILED+=("$t")
    SUMMARY+=("$(printf '%-15s FAILED (exit %s) after %s runs, %s' "$t" "$rc" "${execs:-?}" "$cov")")
    echo "fuzz: $t FOUND A PROBLEM (exit $rc):" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*Fatal error|.*fuzz invariant)' "$log" | head -5 >&2 || true
    if [ ${#found[@]} -gt 0 ]; then
      for a in "${found[@]}"; do
        echo "  reproducer: $a" >&2
        echo "  replay:     scripts/fuzz.sh repro $t $a" >&2
        echo "  minimise:   .build-fuzz/bin/$t -minimize_crash=1 -runs=20000 -exact_artifact_path=$a.min $a" >&2
      done
    else
      echo "  no reproducer was written; see ${log#$ROOT/}" >&2
    fi
    return 0
  fi
  SUMMARY+=("$(printf '%-15s ok  %9s runs  %s  corpus %s' "$t" "${execs:-?}" "$cov" "$(ls "$dir/corpus" | wc -l)")")
  if [ "$merge" = 1 ]; then
    # The inputs that add coverage to the repo's seeds, for review.
    local keep=$dir/keep new=$OUT/new-corpus/$t
    mkdir -p "$keep"
    [ -d "$seeds" ] && cp -R "$seeds/." "$keep/"
    "$bin" -merge=1 "${LIMITS[@]}" "$keep" "$dir/corpus" </dev/null >"$OUT/logs/$t.merge.log" 2>&1 || true
    rm -rf "$new"; mkdir -p "$new"
    local f
    for f in "$keep"/*; do
      [ -e "$f" ] || continue
      [ -e "$seeds/$(basename "$f")" ] || cp "$f" "$new/"
    done
    local n
    n=$(ls "$new" | wc -l)
    if [ "$n" -gt 0 ]; then
      echo "fuzz: $t: $n new inputs add coverage; to keep them: cp ${new#$ROOT/}/* Tests/fuzz/corpus/$t/"
    fi
  fi
}

finish() {
  echo
  echo "fuzz: summary"
  printf '  %s\n' "${SUMMARY[@]}"
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo "fuzz: findings in: ${FAILED[*]} (reproducers in .build-fuzz/findings/; each becomes a test in Tests/ChatHooksCoreTests/FuzzFindingsTests.swift)" >&2
    exit 1
  fi
}

mode=${1:-short}
case $mode in
  build)
    build ;;
  short)
    build
    WORK=$(mktemp -d)
    start=$SECONDS
    for t in "${TARGETS[@]}"; do fuzz_one "$t" "${FUZZ_SECONDS:-15}" 0; done
    echo "fuzz: fuzzed for $((SECONDS - start)) s"
    finish ;;
  long)
    secs=${2:-120}
    build
    WORK=$(mktemp -d)
    for t in "${TARGETS[@]}"; do fuzz_one "$t" "$secs" 1; done
    finish ;;
  run)
    t=${2:?usage: scripts/fuzz.sh run TARGET [SECONDS] [flags…]}
    source_of "$t" >/dev/null
    secs=${3:-60}
    build
    WORK=$(mktemp -d)
    fuzz_one "$t" "$secs" 1 "${@:4}"
    finish ;;
  repro)
    t=${2:?usage: scripts/fuzz.sh repro TARGET FILE…}
    source_of "$t" >/dev/null
    build
    exec "$OUT/bin/$t" -runs=1 "${@:3}" </dev/null ;;
  *)
    echo "usage: scripts/fuzz.sh short | long [SECONDS] | run TARGET [SECONDS] | repro TARGET FILE… | build" >&2
    exit 2 ;;
esac
