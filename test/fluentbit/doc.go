// Package fluentbit tests the Fluent Bit input (plugins/fluentbit) the way
// Fluent Bit runs it. harness/harness.c loads in_auditpull.so through Fluent
// Bit's Go proxy ABI — the >= 4.1 form with per-instance contexts and the
// 2.2–4.0 form without — calls it on a timer from one thread per instance,
// checks every buffer, and writes the records as NDJSON; the tests run it
// against the in-process simulator (test/sim) and compare the exact multiset
// of delivered events with the simulator's truth.
//
// The tests build the .so and the harness into a temporary directory unless
// AUDITPULL_FLUENTBIT_SO and AUDITPULL_FLUENTBIT_HARNESS name prebuilt ones
// (make test-fluentbit does). AUDITPULL_FLUENTBIT_VALGRIND=1 adds the runs
// under valgrind, with the plugin built with -tags valgrind (or the one
// AUDITPULL_FLUENTBIT_SO_VALGRIND names); see TestUnderValgrind for how the
// Go runtime's own memory is told apart from the plugin's.
//
// Run the harness by hand:
//
//	make build/out/in_auditpull.so build/out/fbharness
//	build/out/fbharness -so build/out/in_auditpull.so -records 500 \
//	    -p source=nordpass -p nordpass.base_url=http://127.0.0.1:8080/nordpass \
//	    -p nordpass.token=demo-token -p checkpoint.path=/tmp/cp
package fluentbit
