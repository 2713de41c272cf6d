# Fluent Bit input: build/out/in_auditpull.so (plugin name "auditpull") and
# the harness that loads it the way Fluent Bit's Go proxy does.
#
#   make build/out/in_auditpull.so   the plugin
#   make test-fluentbit              unit tests (-race), the harness tests
#                                    against the simulator, and the same
#                                    harness under valgrind (needs gcc and
#                                    valgrind; about a minute)
FLUENTBIT_CC       ?= gcc
FLUENTBIT_SO       := $(OUT)/in_auditpull.so
FLUENTBIT_SO_VG    := $(OUT)/in_auditpull-valgrind.so
FLUENTBIT_HARNESS  := $(OUT)/fbharness
# -rdynamic: the harness exports the cmetrics calls, as fluent-bit does.
FLUENTBIT_CFLAGS   := -std=c11 -Wall -Wextra -Werror -O2 -g -pthread -rdynamic

BUILD_TARGETS += $(FLUENTBIT_SO) $(FLUENTBIT_HARNESS)
TEST_TARGETS  += test-fluentbit

.PHONY: test-fluentbit fluentbit-force

# go build decides what is stale; make always asks it.
$(FLUENTBIT_SO): fluentbit-force
	@mkdir -p $(OUT)
	$(GO) build -buildmode=c-shared -o $@ ./plugins/fluentbit

# The same plugin with the Go runtime's valgrind annotations (Go >= 1.25),
# used only by the valgrind run of test-fluentbit.
$(FLUENTBIT_SO_VG): fluentbit-force
	@mkdir -p $(OUT)
	$(GO) build -tags valgrind -buildmode=c-shared -o $@ ./plugins/fluentbit

$(FLUENTBIT_HARNESS): test/fluentbit/harness/harness.c
	@mkdir -p $(OUT)
	$(FLUENTBIT_CC) $(FLUENTBIT_CFLAGS) -o $@ $< -ldl

test-fluentbit: $(FLUENTBIT_SO) $(FLUENTBIT_SO_VG) $(FLUENTBIT_HARNESS)
	$(GO) test -race -count=1 ./plugins/fluentbit/
	AUDITPULL_FLUENTBIT_SO=$(abspath $(FLUENTBIT_SO)) \
	AUDITPULL_FLUENTBIT_HARNESS=$(abspath $(FLUENTBIT_HARNESS)) \
		$(GO) test -count=1 ./test/fluentbit/
	AUDITPULL_FLUENTBIT_SO=$(abspath $(FLUENTBIT_SO)) \
	AUDITPULL_FLUENTBIT_SO_VALGRIND=$(abspath $(FLUENTBIT_SO_VG)) \
	AUDITPULL_FLUENTBIT_HARNESS=$(abspath $(FLUENTBIT_HARNESS)) \
	AUDITPULL_FLUENTBIT_VALGRIND=1 \
		$(GO) test -count=1 -v -run TestUnderValgrind ./test/fluentbit/
