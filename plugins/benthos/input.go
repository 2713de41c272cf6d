// Package benthos is the auditpull input for Benthos (Redpanda Connect): a
// batch input named "auditpull" that reads SaaS activity logs through the
// auditpull core. One API page is one message batch, and the Benthos
// acknowledgement of a batch is the core's Batch.Ack, so checkpoints move
// only over delivered pages. Checkpoints live in the core's file store or in
// any Benthos cache resource; with a shared cache, leases let several
// Benthos processes share the streams, one reader per stream at a time.
//
// Importing the package registers the input (and the Bloblang method its
// linter uses) in Benthos' global environment.
package benthos

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	_ "github.com/auditpull/auditpull/core/source/all" // every source
)

// Name is the input's name in Benthos configs.
const Name = "auditpull"

const (
	// fatalRetry is how long the input waits before trying again after an
	// error only a person can fix (credentials, a corrupt checkpoint), so
	// the vendor is not hammered with a refused token; the error is logged
	// at every attempt.
	fatalRetry = time.Minute
	// metricsEvery is how often core counters are copied to Benthos; not
	// at every page, where copying cost 2 % of a backfill's CPU, and far
	// below any scrape interval.
	metricsEvery = time.Second
)

// stallWarnAfter is how long reading waits on a full read-ahead before the
// core says why (0: its default, a minute); tests shorten it.
var stallWarnAfter time.Duration

func init() {
	registerLintMethod()
	err := service.RegisterBatchInput(Name, configSpec(), func(conf *service.ParsedConfig, res *service.Resources) (service.BatchInput, error) {
		// Not service.AutoRetryNacksBatchedToggled: the core already keeps
		// each page until it is acknowledged and replays a rejected one, so
		// Benthos' replay would only keep a second copy of every message:
		// about 10 % of the CPU per event (both alternating on one
		// 200k-event backfill: 20.4–20.8 against 18.2–19.3 CPU-s per
		// million). The input reads the toggle itself and gives it Benthos'
		// meaning (see ReadBatch's ack function).
		return newInput(conf, res)
	})
	if err != nil {
		panic(err)
	}
}

// input implements service.BatchInput. Benthos calls ReadBatch from one
// goroutine and the ack functions from any.
type input struct {
	cfg      *core.Config
	res      *service.Resources
	log      logger
	metrics  *core.Metrics
	exporter *core.MetricsExporter
	cache    string // the checkpoint cache resource, "" for files
	limit    string // the rate limit resource, "" for the core's budget alone
	// replay is auto_replay_nacks: rejected pages are delivered again
	// (true) or dropped, as Benthos inputs drop them (false).
	replay bool
	tls    *tls.Config // the tls block, nil when off

	startMetrics sync.Once
	stopMetrics  func() // set by startMetrics

	// reader holds the poller from Connect until Close, a lost lease (it
	// waits in Connect to take the stream back) or a failure a person
	// must fix (Connect backs off).
	reader *core.Reader
}

func newInput(conf *service.ParsedConfig, res *service.Resources) (*input, error) {
	m, as, err := toCoreMap(conf)
	if err != nil {
		return nil, err
	}
	cfg, err := core.ParseMap(m)
	if err != nil {
		return nil, err
	}
	if as.cache != "" && !res.HasCache(as.cache) {
		return nil, &core.ConfigError{Key: "checkpoint.cache", Msg: fmt.Sprintf("no cache resource labelled %q; add it under cache_resources", as.cache)}
	}
	if as.limit != "" && !res.HasRateLimit(as.limit) {
		return nil, &core.ConfigError{Key: "rate_limit." + fieldLimit, Msg: fmt.Sprintf("no rate limit resource labelled %q; add it under rate_limit_resources", as.limit)}
	}
	replay, err := conf.FieldBool(fieldAutoReplay)
	if err != nil {
		return nil, err
	}
	tlsCfg, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, &core.ConfigError{Key: fieldTLS, Msg: err.Error()}
	}
	if !tlsOn {
		tlsCfg = nil
	} else if h := cfg.HTTP; h.CAFile != "" || h.CertFile != "" || h.KeyFile != "" || h.InsecureSkipVerify {
		return nil, &core.ConfigError{Key: fieldTLS, Msg: "replaces http.ca_file, http.cert_file, http.key_file and http.insecure_skip_verify: unset them"}
	}
	log := logger{res.Logger()}
	if !replay {
		// Until auto_replay_nacks took Benthos' meaning, false was this
		// input's default and still replayed; `benthos create` wrote it
		// into configs, so say loudly what it does now.
		log.Warn("auto_replay_nacks is false: pages rejected by the output are dropped and the checkpoint moves past them, as in other Benthos inputs (before, false still replayed them); remove the setting to have every rejected page delivered again")
	}
	cm := &core.Metrics{}
	in := &input{
		cfg:      cfg,
		res:      res,
		log:      log,
		metrics:  cm,
		exporter: core.NewMetricsExporter(cm, newMetricsSink(res.Metrics())),
		cache:    as.cache,
		limit:    as.limit,
		replay:   replay,
		tls:      tlsCfg,
	}
	in.reader = core.NewReader(in.open, core.ReaderOptions{Logger: log, FatalRetry: fatalRetry})
	return in, nil
}

// Connect starts a session: it opens the checkpoint store, which with
// leases blocks until this process holds the stream, and the core poller.
func (in *input) Connect(ctx context.Context) error {
	in.startMetrics.Do(func() {
		mctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			in.exporter.Run(mctx, metricsEvery)
		}()
		in.stopMetrics = func() { cancel(); <-done }
	})
	switch err := in.reader.Connect(ctx); {
	case errors.Is(err, core.ErrClosed):
		return service.ErrEndOfInput
	case core.IsFatal(err):
		// Logged by the reader; a cache that cannot be reached is not
		// fatal, and Benthos retries it soon.
		return service.NewErrBackOff(err, fatalRetry)
	default:
		return err
	}
}

func (in *input) open(ctx context.Context) (*core.Poller, error) {
	var store checkpoint.Store
	var share *checkpoint.Share
	if in.cache != "" {
		if err := (cacheKV{res: in.res, name: in.cache}).keepsEntries(ctx); err != nil {
			return nil, err
		}
		store, share = newCacheStore(in.res, in.cache, in.cfg.Checkpoint.LeaseTTL.D(), in.cfg.TenantStreams(), in.log)
	}
	// The poller owns the store: it closes it (giving back the leases taken
	// so far) if it fails to start.
	opts := core.Options{Logger: in.log, Metrics: in.metrics, Store: store, TLS: in.tls, Share: share, StallWarning: stallWarnAfter}
	if in.limit != "" {
		opts.BeforeRequest = in.waitRateLimit
	}
	return core.NewPoller(ctx, in.cfg, opts)
}

// ReadBatch returns the next page as a batch; its ack function moves the
// checkpoint (nil) or has the page read again (an error, unless
// auto_replay_nacks is false).
func (in *input) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	b, err := in.reader.Next(ctx)
	switch {
	case errors.Is(err, core.ErrReconnect):
		return nil, nil, service.ErrNotConnected
	case err != nil:
		// Transient: already retried by the core; Benthos logs it and
		// calls again, and the core waits before polling again.
		return nil, nil, err
	}
	// Each message holds its event's bytes in the response body, which no
	// one writes to: Benthos forbids mutating a message's bytes in place
	// (its own nack replay resends the same messages), so a page needs no
	// copy. The capacity is cut at the event's end, so an append
	// reallocates instead of overwriting the next event.
	batch := make(service.MessageBatch, len(b.Events))
	// The page's metadata values are boxed once, not once per message.
	source, stream := any(b.Source), any(b.Stream)
	for i, e := range b.Events {
		msg := service.NewMessage(e.Raw[:len(e.Raw):len(e.Raw)])
		msg.MetaSetMut("source", source)
		msg.MetaSetMut("stream", stream)
		msg.MetaSet("event_id", e.ID)
		msg.MetaSet("event_type", e.Type)
		msg.MetaSet("event_action", e.Action)
		msg.MetaSet("event_time", e.Time.UTC().Format(time.RFC3339Nano))
		batch[i] = msg
	}
	readCtx := ctx
	return batch, func(_ context.Context, err error) error {
		// A rejection caused by the shutdown is no verdict on the page: it
		// stays unacknowledged either way.
		if err != nil && !in.replay && !shutdownRejection(readCtx, err) {
			in.log.Warn("the output rejected a page; dropped (auto_replay_nacks: false)", "stream", b.Stream, "events", len(batch), "error", err.Error())
			err = nil
		}
		b.Ack(err)
		return nil
	}, nil
}

// shutdownRejection reports whether a rejected page was rejected because
// Benthos is shutting down, which says nothing about the page, rather than
// by an output that refused it. Benthos cancels the context of ReadBatch
// when it begins to stop; before that, an output gives up on its own
// context (canceled), or a component between the input and the output
// that is stopped first (an input resource's wrapper, a resource input, a
// switch) rejects with the engine's own errors, which public code cannot
// name: the chain's messages are matched instead, the same in both
// engines. A deadline is no sign of a shutdown: an output's request that
// timed out (net/http's client timeout matches context.DeadlineExceeded)
// is an ordinary rejection.
func shutdownRejection(readCtx context.Context, err error) bool {
	if readCtx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, service.ErrNotConnected) {
		return true
	}
	for ; err != nil; err = errors.Unwrap(err) {
		if shutdownMessages[err.Error()] {
			return true
		}
	}
	return false
}

// shutdownMessages are the messages of the engine errors that mean "stopped
// before the page was written" (component.ErrTypeClosed, ErrFailedSend and
// ErrNotConnected of Benthos v4.27.0 and the Redpanda Connect engine v4.60.0).
var shutdownMessages = map[string]bool{
	"type was closed": true,
	"message failed to reach a target destination": true,
	"not connected to target source or sink":       true,
}

// waitRateLimit waits for the rate_limit resource before each request to
// the vendor (retries, logins and split windows included). The core's own
// budget (the vendor's documented limit) still applies beneath it, so a
// resource can only slow the input down.
func (in *input) waitRateLimit(ctx context.Context) error {
	for {
		var wait time.Duration
		var err error
		if aerr := in.res.AccessRateLimit(ctx, in.limit, func(rl service.RateLimit) { wait, err = rl.Access(ctx) }); aerr != nil {
			return aerr
		}
		if err != nil || wait <= 0 {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Close is called by Benthos once every batch read has been acknowledged
// (or the shutdown timeout passed): the checkpoint written now covers all
// delivered pages.
func (in *input) Close(context.Context) error {
	in.reader.Close()
	// Never connected: the metrics are published once all the same.
	in.startMetrics.Do(func() { in.stopMetrics = in.exporter.Sync })
	in.stopMetrics() // publishes the final values
	return nil
}
