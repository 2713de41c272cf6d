# Telegraf adapter: a Telegraf build with the auditpull input
# compiled in, and the execd shim for users who keep their distribution's
# Telegraf. The Go build cache decides what to rebuild, so the binaries are
# always handed to `go build` (a cold build of Telegraf takes minutes).
TELEGRAF_PKGS := ./plugins/telegraf/... ./build/telegraf/... ./build/telegraf-execd/...

BUILD_TARGETS += $(OUT)/telegraf $(OUT)/auditpull-telegraf-execd
TEST_TARGETS  += test-telegraf

.PHONY: $(OUT)/telegraf $(OUT)/auditpull-telegraf-execd test-telegraf

$(OUT)/telegraf:
	$(GO) build -o $@ ./build/telegraf

$(OUT)/auditpull-telegraf-execd:
	$(GO) build -o $@ ./build/telegraf-execd

# The end-to-end tests run the real agent (the test binary re-executes
# itself as the telegraf command) against the simulator.
test-telegraf:
	$(GO) test -race -count=1 $(TELEGRAF_PKGS)
