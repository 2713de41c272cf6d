# Benthos adapter: the auditpull input (plugins/benthos), a Benthos
# build with it compiled in (build/benthos) and `make demo`.
#
#   make build/out/benthos   the Benthos binary (pure, io, redis, kafka,
#                            elasticsearch, splunk, prometheus + auditpull)
#   make test-benthos        the plugin's tests under -race: the
#                            StreamBuilder tests, Redis checkpoints and
#                            leases (starts redis-server), and the built
#                            binary with the example configs
#   make bench-replicas      (part of make bench) three replicas sharing
#                            300 tenants through Redis, one killed
#   make demo                the simulator, Benthos with the demo config,
#                            then a second run that resumes (ends by itself);
#                            ENGINE=redpanda runs it on build/redpanda
#                            (mk/redpanda.mk)
#
# The Go build cache decides what to rebuild, so the binaries are always
# handed to `go build`.
# plugins/benthos/internal (the generator of plugins/redpanda) is tested by
# test-redpanda.
BENTHOS_PKGS := ./plugins/benthos ./build/benthos/...

BUILD_TARGETS += $(OUT)/benthos
TEST_TARGETS  += test-benthos
BENCH_TARGETS += bench-replicas

.PHONY: $(OUT)/benthos test-benthos bench-replicas

$(OUT)/benthos:
	@mkdir -p $(OUT)
	$(GO) build -o $@ ./build/benthos

test-benthos:
	$(GO) test -race -count=1 -timeout 15m $(BENTHOS_PKGS)

# Three built replicas sharing 300 tenants through Redis, one killed.
bench-replicas:
	$(GO) test -run '^$$' -bench ThreeReplicas -benchtime 1x -timeout 10m ./plugins/benthos

ENGINE ?= benthos
DEMO_BIN_benthos  := $(OUT)/benthos
DEMO_BIN_redpanda := $(OUT)/redpanda-benthos

demo: $(DEMO_BIN_$(ENGINE))
	@GO="$(GO)" OUT="$(OUT)" ENGINE="$(ENGINE)" bash scripts/demo.sh
