# chathooks — `make run` serves the receivers locally on a demo config;
# `make test` runs every test. Both install what they need first.

SWIFT_BUILD := scripts/swift-build.sh
BIN := .build/release
HANDLERS := $(shell cat scripts/receivers.txt)
PORT ?= 8080

.PHONY: all deps build dist test run clean bench bench-spalo bench-console link-order soak

all: build

deps:
	@scripts/deps.sh

# Static executables: no shared libraries, so one copied file runs on any
# x86-64 Linux host. `ldd` must say "not a dynamic executable".
build: deps
	$(SWIFT_BUILD)
	@for h in $(HANDLERS) chathooks chathooks-sink; do \
	  ldd $(BIN)/$$h 2>&1 | grep -q 'not a dynamic executable' || { echo "$$h is not static" >&2; exit 1; }; \
	done
	@echo "built static executables in $(BIN)/"

# The shared-hosting bundle (see dist-files/INSTALL.md).
dist: build
	@scripts/dist.sh

test: dist
	swift test
	CHATHOOKS_BIN_DIR=$(CURDIR)/$(BIN) python3 -m pytest -q -p no:cacheprovider Tests/handler Tests/integration \
	  Tests/hostile Tests/durability Tests/sink Tests/guards Tests/console Tests/zz_secrets
	scripts/fuzz.sh short

run: build
	PORT=$(PORT) python3 tools/demo.py

# Benchmarks (not part of `make test`): ours against C, PHP and Python, as CGI
# and FastCGI, and the console on 1,000,000 events; writes bench/RESULTS.md.
# About 12 minutes on 2 cores (4 of them the console, section 8).
bench: deps
	@bench/setup.sh
	python3 bench/run.py

# Only the benchmark's section 5 (SPALO dataset lookups in CSV and SQLite,
# against PHP), about a minute; writes bench/work/spalo-only/RESULTS-spalo.md.
# BENCH_BIN=.build/release times the executables already built there.
bench-spalo: deps
	@bench/setup.sh
	python3 bench/run.py --only spalo $(if $(BENCH_BIN),--bin $(BENCH_BIN))

# Only the benchmark's section 8 (the console's pages as CGI on a journal of
# 1,000,000 events, one file and monthly files), a few minutes (plus about a
# minute, once, to write the journal into bench/work/console-data/); writes
# bench/work/console-only/RESULTS-console.md. BENCH_BIN as for bench-spalo.
bench-console: deps
	@bench/setup.sh
	python3 bench/run.py --only console $(if $(BENCH_BIN),--bin $(BENCH_BIN))

# 10 minutes of mixed traffic through nginx to one FastCGI process: RSS and open
# descriptors sampled and required flat, nothing lost (not in `make test`;
# SOAK_SECONDS=60 for a short run).
# Then every fuzz target for FUZZ_SOAK_SECONDS each (Tests/fuzz).
FUZZ_SOAK_SECONDS ?= 120
soak: build
	CHATHOOKS_BIN_DIR=$(CURDIR)/$(BIN) python3 bench/soak.py
	scripts/fuzz.sh long $(FUZZ_SOAK_SECONDS)

# Regenerates scripts/link-order.txt (the layout of the functions a request
# runs; see scripts/swift-build.sh). Needs valgrind (installed by bench/setup.sh).
link-order: build
	@bench/setup.sh
	python3 scripts/link-order.py
	$(SWIFT_BUILD)

clean:
	rm -rf .build run dist
