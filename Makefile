# auditpull — `make test` runs every test, `make demo` shows the main job on
# the bundled simulator. Adapter-specific targets live in mk/*.mk and add
# themselves to BUILD_TARGETS / TEST_TARGETS / BENCH_TARGETS.
GO       ?= go
OUT      := build/out
SHELL    := /bin/bash
BUILD_TARGETS :=
TEST_TARGETS  :=
BENCH_TARGETS :=

.PHONY: all build test test-core lint bench bench-core demo fuzz fuzz-short clean conformance-full
all: build

include $(wildcard mk/*.mk)

build: $(BUILD_TARGETS)

# Core and simulator under the race detector; adapters add their own suites.
test: lint test-core fuzz-short $(TEST_TARGETS)

CORE_PKGS := ./core/... ./internal/... ./test/sim/... ./test/conformance/... ./test/bench/...

# The static checks of every package, in one place: gofmt, go vet, and
# golangci-lint (.golangci.yml). golangci-lint is pinned in its own module,
# tools/go.mod, so its dependencies stay out of go.mod; `go tool` builds it
# on first use (a few minutes on two cores) and keeps it in the build cache.
GOLANGCI_LINT := $(GO) tool -modfile=tools/go.mod golangci-lint

lint:
	@unformatted=$$(gofmt -l .); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

# Some conformance scenarios sleep through a Retry-After or a back-off: many
# at once keep both cores busy meanwhile.
test-core:
	$(GO) test -race -count=1 -parallel 8 $(CORE_PKGS)

# The ambiguity matrix in full: every source under every combination of the
# readings the vendors' documents leave open (test/conformance/matrix_test.go;
# `make test` runs a pairwise sample). 18,528 cells: 1,509 s on this project's
# 2-core machine (2026-12-07; 5,808 cells took 452 s at 275 MB peak RSS).
conformance-full:
	AUDITPULL_CONFORMANCE_FULL=1 $(GO) test -count=1 -timeout 180m -parallel 8 -run TestAmbiguityMatrix ./test/conformance/

# Each fuzz target: 20,000 inputs in `make test` (0.6 to 2.3 s each here), FUZZTIME
# each in `make fuzz`. A count, not a duration: Go's fuzzing engine before
# Go 1.27 can fail a run at the end of a duration with "context deadline
# exceeded" and no failing input (golang/go#75804, a race in its shutdown),
# which CI runs of `make test` here hit once in every few runs. A failing
# run prints its output and runs once more: a real failure saves its input
# under the package's testdata/fuzz, so it fails again.
FUZZ_TARGETS := ./core:FuzzParseConfig ./core:FuzzCheckpoint ./core/source/nordpass:FuzzDecodePage \
  ./core/source/nordpassmsp:FuzzDecodePage ./core/source/oloid:FuzzDecodePage ./core/source/qualtrics:FuzzDecodePage \
  ./internal/jsonscan:FuzzScannerAgreesWithEncodingJSON ./internal/fbrecord:FuzzRecordMatchesJSON
FUZZTIME ?= 2m
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  for try in 1 2; do \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) && { echo "$$out" | tail -1; break; }; \
	    echo "$$out" | grep -v '^fuzz: elapsed' | tail -40; \
	    if [ $$try = 2 ]; then exit 1; fi; \
	    echo "fuzz $$pkg $$name failed; once more (a saved failing input fails again)"; \
	  done; \
	done

bench: bench-core $(BENCH_TARGETS)

# One iteration each: the figures are whole runs (a 1M-event backfill, a
# 20 s budget run, 1,000 streams, steady-state freshness and requests, live
# streams beside 90-day backfills on one budget, the cost of format ocsf and
# ecs), printed as custom metrics; nothing is asserted. Then the NordPass
# page decoder and the OCSF/ECS mapping per event.
bench-core:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./test/bench/
	$(GO) test -run '^$$' -bench . -benchmem ./core/source/nordpass/
	$(GO) test -run '^$$' -bench . -benchmem ./core/normalize/

clean:
	rm -rf $(OUT)
