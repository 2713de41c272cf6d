// Package chaos is the crash and fault suite over the built hosts: the
// Benthos build (with the file store, and with checkpoints in a `file`
// cache, which writes in place), the Telegraf build and the Fluent Bit
// plugin in the harness that plays Fluent Bit's Go proxy, each run as a
// process against the
// NordPass simulator served from the test process, whose history is the
// ground truth.
//
//   - Kills: during a long backfill (file checkpoints in a temporary
//     directory, events written to a file), each host is killed with SIGKILL
//     at a random moment, restarted, killed again, N times, and finally left
//     to finish. The union of everything written must hold every event of
//     the history (zero lost: a hard assertion) and nothing foreign; events
//     written twice are counted per kill and reported (the target is at most
//     one page per kill). A torn last line after a kill is tolerated and does
//     not count as delivered.
//   - Faults: a host reads several organizations whose API answers about
//     half the requests with a fault — 5xx, 429, connection resets,
//     truncated and invalid JSON, slow responses and timeouts — until at
//     least the requested number of faults was injected; every event must
//     arrive exactly once.
//   - Secrets: each host also runs once with a token the API refuses (403,
//     expired), the error path where a careless log line would quote the
//     request; it must report the vendor's reason. Then every line any of
//     these processes logged (stdout and stderr), and every file they wrote,
//     is searched for both tokens; neither may appear.
//     TestFindSecretsSeesAPlantedToken checks that the search finds a
//     planted token.
//
// The suite runs only when AUDITPULL_CHAOS_KILLS is set (make chaos: 100
// kills per host; make test-chaos, part of make test: 5), so `go test
// ./test/...` skips it. Other settings:
//
//	AUDITPULL_CHAOS_HOSTS        hosts of the kill runs (benthos,benthos-file-cache,telegraf,fluentbit)
//	AUDITPULL_CHAOS_FAULTS       faulted requests per fault run (10000)
//	AUDITPULL_CHAOS_FAULT_HOSTS  hosts of the fault runs (benthos)
//	AUDITPULL_CHAOS_SEED         seed of the kill moments and faults (random, printed)
//
// The binaries come from AUDITPULL_BENTHOS, AUDITPULL_TELEGRAF,
// AUDITPULL_FLUENTBIT_SO and AUDITPULL_FLUENTBIT_HARNESS (make passes
// build/out/...), or are built into a temporary directory. Timings are
// printed, never asserted.
package chaos
