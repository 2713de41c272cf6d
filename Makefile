# auditpull — `make test` runs every test, `make demo` shows the main job on
# the bundled simulator. Adapter-specific targets live in mk/*.mk and add
# themselves to BUILD_TARGETS / TEST_TARGETS / BENCH_TARGETS.
GO       ?= go
OUT      := build/out
SHELL    := /bin/bash
BUILD_TARGETS :=
TEST_TARGETS  :=
BENCH_TARGETS :=

.PHONY: all build test test-core vet bench bench-core demo fuzz fuzz-short clean
all: build

include $(wildcard mk/*.mk)

build: $(BUILD_TARGETS)

# Core and simulator under the race detector; adapters add their own suites.
test: vet test-core fuzz-short $(TEST_TARGETS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./core/... ./test/...

test-core:
	$(GO) test -race -count=1 ./core/... ./test/...

# Each fuzz target: a few seconds in `make test`, FUZZTIME each in `make fuzz`.
FUZZ_TARGETS := ./core:FuzzParseConfig ./core:FuzzCheckpoint ./core/source/nordpass:FuzzDecodePage
FUZZTIME ?= 2m
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=4s

fuzz:
	@set -eo pipefail; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg | tail -1; \
	done

bench: bench-core $(BENCH_TARGETS)

bench-core:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./core/... ./test/...

clean:
	rm -rf $(OUT)
