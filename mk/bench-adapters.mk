# Per-adapter throughput: test/bench/adapters runs each built host
# — Benthos build, Telegraf build, Fluent Bit .so in the harness — and the
# peer (stock Benthos: generate + http processors + unarchive) on one
# NordPass backfill from the standalone simulator on loopback, rate limits
# off, and prints one table: events/s, CPU s per million events, events per
# CPU-second and its ratio to the peer's, peak RSS, requests. Each row is
# the median of BENCH_RUNS interleaved rounds. About five minutes (the Fluent
# Bit row with default settings alone takes two, and runs once: see the
# README's Benchmarks section).
#
#   make bench-adapters [BENCH_EVENTS=200000] [BENCH_RUNS=5] [BENCH_HOSTS=benthos,peer]
#                       [BENCH_BASELINE=dir of an earlier build's binaries]
#
# With BENCH_BASELINE each host row runs a second time per round with the
# earlier build, so a change is measured against its parent side by side.
BENCH_EVENTS ?= 200000
BENCH_RUNS   ?= 5
BENCH_HOSTS  ?= benthos,telegraf,telegraf-json,fluentbit,fluentbit-tuned,peer,filecopy
BENCH_BASELINE ?=

BENCH_TARGETS += bench-adapters

.PHONY: bench-adapters

bench-adapters: $(OUT)/benthos $(OUT)/telegraf $(OUT)/in_auditpull.so $(OUT)/fbharness
	AUDITPULL_BENTHOS=$(abspath $(OUT)/benthos) \
	AUDITPULL_TELEGRAF=$(abspath $(OUT)/telegraf) \
	AUDITPULL_FLUENTBIT_SO=$(abspath $(OUT)/in_auditpull.so) \
	AUDITPULL_FLUENTBIT_HARNESS=$(abspath $(OUT)/fbharness) \
		$(GO) run ./test/bench/adapters -events $(BENCH_EVENTS) -runs $(BENCH_RUNS) -hosts $(BENCH_HOSTS) $(if $(BENCH_BASELINE),-baseline $(abspath $(BENCH_BASELINE)))
