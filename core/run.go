package core

import (
	"context"
)

// Run drives the poller for hosts that push events (Telegraf, Fluent Bit):
// it hands every non-empty batch to deliver, which owns it from then on and
// acks it once the host has made it safe. Empty batches (a window read with
// nothing new) are acked here, so the checkpoint still moves.
//
// A transient error is passed to report and polling goes on (the core has
// already retried and paces the next poll). Run returns nil when ctx ends,
// deliver's error if it returns one, or a fatal error (IsFatal), which no
// further polling can cure.
func (p *Poller) Run(ctx context.Context, deliver func(context.Context, *Batch) error, report func(error)) error {
	for {
		b, err := p.Next(ctx)
		switch {
		case ctx.Err() != nil:
			if b != nil {
				b.Release()
			}
			return nil
		case err != nil && IsFatal(err):
			return err
		case err != nil:
			report(err)
			continue
		case len(b.Events) == 0:
			b.Ack(nil)
			continue
		}
		if err := deliver(ctx, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
