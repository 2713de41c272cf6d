# The auditpull input on the Redpanda Connect engine
# (github.com/redpanda-data/benthos/v4): plugins/redpanda, generated from
# plugins/benthos by `go generate ./plugins/benthos`, and a build of the
# engine's own components with it (build/redpanda).
#
#   make build/out/redpanda-benthos   the engine (pure, io) + auditpull
#   make test-redpanda                the same tests as test-benthos, on this
#                                     engine: StreamBuilder tests, file cache
#                                     checkpoints and leases (the engine has
#                                     no Redis), the built binary with the
#                                     example configs; and the generator's
#                                     staleness test
#   make demo ENGINE=redpanda         `make demo` on this build
REDPANDA_PKGS := ./plugins/redpanda/... ./build/redpanda/... ./plugins/benthos/internal/...

BUILD_TARGETS += $(OUT)/redpanda-benthos
TEST_TARGETS  += test-redpanda

.PHONY: $(OUT)/redpanda-benthos test-redpanda

$(OUT)/redpanda-benthos:
	@mkdir -p $(OUT)
	$(GO) build -o $@ ./build/redpanda

test-redpanda:
	$(GO) test -race -count=1 -timeout 15m $(REDPANDA_PKGS)
