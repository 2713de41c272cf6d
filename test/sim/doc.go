// Package sim is a deterministic, in-process fake of the vendor APIs auditpull
// polls. It exists so that the core and the host plugins can be tested against
// every documented rule of a vendor — and against the ways real networks and
// gateways fail — without credentials, without a network and without waiting
// for real time to pass.
//
// The package is split into a vendor-independent framework and one file per
// vendor:
//
//   - clock.go: the Clock the simulators read "now" from (FakeClock for tests).
//   - store.go: the ground-truth Store, a time-sorted record history with
//     per-record visibility, from which vendors serve pages and against which
//     tests compare what a client delivered; storeseek.go pages it by key
//     or by offset under any filter.
//   - histgen.go: shared generation of realistic event times.
//   - ratelimit.go: per-client sliding-window rate limiting.
//   - faults.go: fault injection (latency, 5xx, 429, resets, broken bodies).
//   - gateway.go: the chain every data endpoint sits behind (request
//     counting, rate limit, faults).
//   - server.go: one http.Handler that mounts vendors under path prefixes.
//   - respond.go: what every vendor handler shares (JSON checks and
//     writes, the NordPass APIs' common limits).
//   - nordpass.go: NordPass Enterprise Activity Logs API.
//   - nordpassmsp.go: NordPass MSP Activity Log API (JWT verified with the
//     public key).
//   - oloid.go: OLOID login and List Activity Logs (/filterActivity).
//   - qualtrics.go: Qualtrics List Events (/logs), API token and OAuth.
//
// A new vendor is a new file: an http.Handler that embeds *Gateway, keeps its
// records in a *Store, and is mounted on a Server under its own prefix.
package sim
