// Package core is auditpull's polling engine. It knows nothing about any
// host; adapters (Fluent Bit, Telegraf, Benthos) drive it like this:
//
//	cfg, err := core.ParseMap(m)          // host config translated to core keys
//	p, err := core.NewPoller(ctx, cfg, core.Options{Logger: l, Store: s})
//	for {
//		b, err := p.Next(ctx)             // blocks; one API page per batch
//		if core.IsFatal(err) { stop }     // credentials/config: a person must act
//		if err != nil { report; continue }// transient: already retried, polled again
//		deliver(b.Events)
//		b.Ack(deliveryErr)                // nil moves the checkpoint; error re-delivers
//	}
//	p.Close(ctx)                          // writes the last committed checkpoint
//
// The checkpoint advances over a contiguous run of acked batches only, so
// acks may come in any order and from any goroutine. At most
// max_undelivered_pages batches are outstanding; Next waits for acks beyond.
package core
