#!/bin/sh
# The release build of the receivers, used by `make build` and `make bench`:
# static executables (no shared libraries: one copied file runs on any x86-64
# Linux host), linked by lld with the functions a request runs laid out side
# by side (scripts/link-order.txt; regenerate with `make link-order`). A CGI
# handler starts once per request, and scattered code costs a page fault per
# 64 KiB it touches: the layout saves a fifth of the faults and about 5 % of
# the wall time of a request (bench/RESULTS.md). Names in the order file that
# no longer exist are ignored, so a stale file costs speed, never a build.
set -eu
cd "$(dirname "$0")/.."
exec swift build -c release -Xswiftc -static-executable \
  -Xswiftc -use-ld=lld \
  -Xlinker --symbol-ordering-file="$PWD/scripts/link-order.txt" -Xlinker --no-warn-symbol-ordering \
  "$@"
