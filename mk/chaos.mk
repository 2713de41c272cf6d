# Crash and fault suite over the built hosts: test/chaos.
#
#   make chaos        SIGKILL at random moments, N times per host (N=100 by
#                     default: make chaos N=20), during a NordPass backfill —
#                     Benthos build (file store, and a file cache), Telegraf
#                     build, Fluent Bit .so in the harness — then 10,000
#                     faulted requests through each host but the file
#                     cache one, and the secrets check over every log
#                     line; prints the tables (the suite about 5½
#                     minutes, plus building the hosts)
#   make test-chaos   the bounded version inside `make test`: 5 kills per
#                     host, 10,000 faults through the Benthos build (about a
#                     minute)
#
# Zero lost events is asserted; re-deliveries are counted and printed.
# Settings and reproduction (AUDITPULL_CHAOS_SEED): test/chaos/doc.go.
N ?= 100
CHAOS_BINS := $(OUT)/benthos $(OUT)/telegraf $(OUT)/in_auditpull.so $(OUT)/fbharness
CHAOS_ENV   = AUDITPULL_BENTHOS=$(abspath $(OUT)/benthos) \
              AUDITPULL_TELEGRAF=$(abspath $(OUT)/telegraf) \
              AUDITPULL_FLUENTBIT_SO=$(abspath $(OUT)/in_auditpull.so) \
              AUDITPULL_FLUENTBIT_HARNESS=$(abspath $(OUT)/fbharness)

TEST_TARGETS += test-chaos

.PHONY: chaos test-chaos

test-chaos: $(CHAOS_BINS)
	$(CHAOS_ENV) AUDITPULL_CHAOS_KILLS=5 \
		$(GO) test -count=1 -v -parallel 8 -timeout 10m ./test/chaos/

chaos: $(CHAOS_BINS)
	$(CHAOS_ENV) AUDITPULL_CHAOS_KILLS=$(N) AUDITPULL_CHAOS_FAULT_HOSTS=benthos,telegraf,fluentbit \
		$(GO) test -count=1 -v -parallel 8 -timeout 60m ./test/chaos/
