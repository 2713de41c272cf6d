#!/usr/bin/env bash
# `make demo`: auditpull's main job, on the bundled simulator.
#
# Starts the API simulator (NordPass, a day of history plus live activity),
# runs the Benthos build with examples/configs/benthos/demo.yaml (with
# ENGINE=redpanda: the Redpanda Connect engine's build with
# examples/configs/redpanda/demo.yaml) so you watch
# the activity log stream in, stops it, and runs it again to show that it
# resumes from the checkpoint without repeating an event. It ends by itself
# and stops everything it started, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=${OUT:-build/out}
ENGINE=${ENGINE:-benthos}
case $ENGINE in
benthos) BENTHOS=$OUT/benthos ;;
redpanda) BENTHOS=$OUT/redpanda-benthos ;;
*) echo "ENGINE=$ENGINE: want benthos or redpanda" >&2; exit 2 ;;
esac
SIM=$OUT/auditpull-sim
CONFIG=examples/configs/$ENGINE/demo.yaml
EVENTS=${DEMO_EVENTS:-300}      # history the simulator starts with
SECOND_RUN=${DEMO_SECOND_RUN:-8} # seconds the resumed run lasts

work=$(mktemp -d "${TMPDIR:-/tmp}/auditpull-demo.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "demo interrupted"; exit 130' INT TERM

if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; else bold= dim= off=; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
cols=$(tput cols 2>/dev/null || echo 120)
cols=$((cols > 40 ? cols - 1 : 119))

lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# wait_lines FILE N SECONDS PID: until FILE has N lines; fails if PID exits.
wait_lines() {
	local deadline=$((SECONDS + $3))
	while [ "$(lines "$1")" -lt "$2" ]; do
		if ! kill -0 "$4" 2>/dev/null; then
			echo "Benthos exited early; its log:" >&2
			cat "$work/benthos.log" >&2
			exit 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "timed out waiting for $2 events (got $(lines "$1")); Benthos log:" >&2
			cat "$work/benthos.log" >&2
			exit 1
		fi
		sleep 0.2
	done
}

say "Building the simulator (Benthos was built by make: $BENTHOS)"
mkdir -p "$OUT"
"$GO" build -o "$SIM" ./test/sim/cmd/auditpull-sim

say "Starting the NordPass API simulator: $EVENTS events over the last day, one new event per second"
"$SIM" -listen 127.0.0.1:0 -events "$EVENTS" -span 24h -live-rate 1 -token demo-token \
	>"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
sim_pid=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$work/sim.out" 2>/dev/null && break
	kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err" >&2; exit 1; }
	sleep 0.1
done
url=$(sed -n 's/^auditpull-sim listening on //p' "$work/sim.out")
[ -n "$url" ] || { echo "the simulator did not start" >&2; cat "$work/sim.err" >&2; exit 1; }
echo "simulator at $url/nordpass"

export AUDITPULL_SIM_URL="$url/nordpass" AUDITPULL_DEMO_TOKEN=demo-token
export AUDITPULL_STATE_DIR="$work/state" AUDITPULL_LOG_LEVEL=WARN

# run_benthos FILE: Benthos in the background, its events to FILE and, cut
# to the terminal's width, to the screen.
run_benthos() {
	"$BENTHOS" -c "$CONFIG" 2>>"$work/benthos.log" > >(tee "$1" | cut -c "1-$cols") &
	bpid=$!
	pids+=("$bpid")
}

stop_benthos() {
	kill -TERM "$bpid" 2>/dev/null || true
	wait "$bpid" 2>/dev/null || true
	sleep 0.3 # let the screen catch up with the last lines
}

say "Run 1: Benthos reads the activity log (one JSON event per line)"
run_benthos "$work/run1.jsonl"
wait_lines "$work/run1.jsonl" "$EVENTS" 120 "$bpid"
sleep 5 # a few live events arrive while it polls
stop_benthos
n1=$(lines "$work/run1.jsonl")
# The cursor is Unix nanoseconds; shown as a time when date(1) can.
cursor=$(grep -ho '"cursor":[0-9]*' "$work/state/"*.json 2>/dev/null | head -1 | cut -d: -f2 || true)
if [ -n "$cursor" ]; then cursor=$(date -u -d "@$((cursor / 1000000000))" +%FT%TZ 2>/dev/null || echo "$cursor"); fi
say "Run 1 delivered $n1 events and stopped. Checkpoint: everything before ${cursor:-?} is delivered."
echo "${dim}(new activity keeps arriving at the simulator meanwhile)${off}"
sleep 3

say "Run 2: the same command again, for ${SECOND_RUN}s"
run_benthos "$work/run2.jsonl"
sleep "$SECOND_RUN"
stop_benthos
n2=$(lines "$work/run2.jsonl")
repeated=$(LC_ALL=C comm -12 <(LC_ALL=C sort -u "$work/run1.jsonl") <(LC_ALL=C sort -u "$work/run2.jsonl") | wc -l | tr -d ' ')

say "Run 2 resumed from the checkpoint: $n2 new events, $repeated repeated from run 1."
if [ "$repeated" -ne 0 ] || [ "$n1" -lt "$EVENTS" ]; then
	echo "unexpected: see $CONFIG and the log above" >&2
	cat "$work/benthos.log" >&2
	exit 1
fi
echo "Try it yourself: plugins/benthos/README.md; configs for real APIs: examples/configs/$ENGINE/."
