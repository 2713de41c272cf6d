// Package auditpull is the Telegraf input plugin inputs.auditpull: it drives
// the auditpull core (github.com/auditpull/auditpull/core) and hands every
// page of audit events to Telegraf as a tracked metric group, so a page's
// position is checkpointed only after Telegraf's outputs have written it.
package auditpull

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/selfstat"

	"github.com/auditpull/auditpull/core"
	"github.com/auditpull/auditpull/core/checkpoint"
	_ "github.com/auditpull/auditpull/core/source/all" // every source
)

//go:embed sample.conf
var sampleConfig string

// Name is the plugin's name in Telegraf's configuration: [[inputs.auditpull]].
const Name = "auditpull"

// AuditPull is inputs.auditpull: the core's options (Options, generated
// from the core schema into options_gen.go) and Telegraf's own.
type AuditPull struct {
	Options
	TelegrafOptions

	Log telegraf.Logger `toml:"-"`

	cfg    *core.Config
	dryRun bool

	// running state, owned by Start/Stop
	poller  *core.Poller
	metrics *core.Metrics
	acc     telegraf.Accumulator
	tacc    telegraf.TrackingAccumulator
	sem     chan struct{}
	mu      sync.Mutex
	pending map[telegraf.TrackingID]*core.Batch
	settled chan struct{} // a pending page was delivered or rejected

	stopRead, stopOther context.CancelFunc
	readWG, otherWG     sync.WaitGroup
}

// TelegrafOptions are the options only this plugin has, declared with the
// core's schema tags so that sample.conf documents them beside the core's.
type TelegrafOptions struct {
	Measurement     string          `toml:"measurement" config:"measurement" default:"auditpull" doc:"Name of the event measurement. Statistics go to <measurement>_stats."`
	StatsInterval   config.Duration `toml:"stats_interval" config:"stats_interval" kind:"duration" default:"60s" doc:"How often to emit the statistics measurement; 0s disables it."`
	ShutdownTimeout config.Duration `toml:"shutdown_timeout" config:"shutdown_timeout" kind:"duration" default:"15s" doc:"On shutdown, how long to wait for pages already handed to Telegraf to be written by the outputs, so that their position is saved. Pages still unwritten then are read again at the next start (at-least-once)."`
}

func (*AuditPull) SampleConfig() string { return sampleConfig }

// SetDryRun makes the input leave its checkpoint untouched: it reads from
// the saved position but never writes it, and pages the outputs reject are
// not re-sent. The Telegraf build sets it for --test, where Telegraf prints
// and then rejects every metric.
func (a *AuditPull) SetDryRun(on bool) { a.dryRun = on }

// Init validates the configuration completely: the options are translated
// into the core schema and parsed there, so an error names the option as
// every auditpull host does ("auditpull config: nordpass.token: required…").
func (a *AuditPull) Init() error {
	if a.Measurement == "" {
		return &core.ConfigError{Key: "measurement", Msg: "must not be empty"}
	}
	if a.StatsInterval < 0 {
		return &core.ConfigError{Key: "stats_interval", Msg: "must not be negative (0 disables the statistics)"}
	}
	if a.ShutdownTimeout < 0 {
		return &core.ConfigError{Key: "shutdown_timeout", Msg: "must not be negative"}
	}
	m, err := a.Options.coreMap()
	if err != nil {
		return err
	}
	cfg, err := core.ParseMap(m)
	if err != nil {
		return err
	}
	a.cfg = cfg
	return nil
}

// Start opens the poller (loading the checkpoint; a corrupt one is an error
// here, never a silent restart) and starts reading.
func (a *AuditPull) Start(acc telegraf.Accumulator) error {
	if a.cfg == nil {
		if err := a.Init(); err != nil {
			return err
		}
	}
	var store checkpoint.Store
	if a.dryRun {
		st, err := core.OpenStore(a.cfg.Checkpoint)
		if err != nil {
			return err
		}
		store = readOnlyStore{st}
		a.Log.Info("dry run: the checkpoint is read but not written")
	}
	a.metrics = &core.Metrics{}
	p, err := core.NewPoller(context.Background(), a.cfg, core.Options{
		Logger:  coreLogger{a.Log},
		Metrics: a.metrics,
		Store:   store,
		// Telegraf starts its inputs one after another: a vendor that is
		// down must not hold up the agent (the read loop retries).
		DeferOpen: true,
	})
	if err != nil {
		if store != nil {
			_ = store.Close()
		}
		return err
	}
	n := a.cfg.MaxUndeliveredPages
	a.poller = p
	a.acc = acc
	a.tacc = acc.WithTracking(n)
	a.sem = make(chan struct{}, n)
	a.pending = make(map[telegraf.TrackingID]*core.Batch, n)
	a.settled = make(chan struct{}, 1)

	readCtx, stopRead := context.WithCancel(context.Background())
	otherCtx, stopOther := context.WithCancel(context.Background())
	a.stopRead, a.stopOther = stopRead, stopOther
	a.readWG.Add(1)
	go func() {
		defer a.readWG.Done()
		a.read(readCtx)
	}()
	a.otherWG.Add(1)
	go func() {
		defer a.otherWG.Done()
		a.track(otherCtx)
	}()
	if a.StatsInterval > 0 {
		stats := a.registerSelfstats()
		a.otherWG.Add(1)
		go func() {
			defer a.otherWG.Done()
			a.emitStats(otherCtx, stats)
		}()
	}
	return nil
}

// Gather does nothing: events arrive from the reader goroutine and the
// statistics on their own interval.
func (*AuditPull) Gather(telegraf.Accumulator) error { return nil }

// Stop stops reading, waits up to shutdown_timeout for the pages in flight
// to be delivered (the outputs keep flushing while inputs stop), and saves
// the checkpoint. Pages still undelivered are re-read at the next start.
func (a *AuditPull) Stop() {
	if a.poller == nil {
		return
	}
	a.stopRead()
	a.readWG.Wait()

	if left := a.waitSettled(time.Duration(a.ShutdownTimeout)); left > 0 {
		a.Log.Warnf("%d page(s) not yet delivered by the outputs after %s; they will be read again at the next start",
			left, time.Duration(a.ShutdownTimeout))
	}
	a.stopOther()
	a.otherWG.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.poller.Close(ctx); err != nil {
		a.Log.Errorf("saving the checkpoint: %v", err)
	}
	a.poller = nil
}

// read hands one page after another to Telegraf, holding at most
// max_undelivered_pages tracked groups (the same bound the core keeps).
func (a *AuditPull) read(ctx context.Context) {
	for {
		select {
		case a.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		b, err := a.poller.Next(ctx)
		if err != nil {
			<-a.sem
			if ctx.Err() != nil {
				return
			}
			if core.IsFatal(err) {
				a.acc.AddError(fmt.Errorf("polling stopped until the configuration or credentials are fixed and Telegraf is restarted: %w", err))
				return
			}
			// Transient: the core already retried and paces the next poll.
			a.acc.AddError(err)
			continue
		}
		if len(b.Events) == 0 {
			<-a.sem
			b.Ack(nil)
			continue
		}
		group := a.toMetrics(b)
		// Hold the lock across AddTrackingMetricGroup: the outputs may
		// deliver the group before it returns, and track() must find it.
		a.mu.Lock()
		id := a.tacc.AddTrackingMetricGroup(group)
		a.pending[id] = b
		a.mu.Unlock()
	}
}

// track acks each page to the core once Telegraf reports its fate.
func (a *AuditPull) track(ctx context.Context) {
	for {
		select {
		case info := <-a.tacc.Delivered():
			a.settle(info)
		case <-ctx.Done():
			return
		}
	}
}

var errRejected = errors.New("rejected by an output")

func (a *AuditPull) settle(info telegraf.DeliveryInfo) {
	a.mu.Lock()
	b, ok := a.pending[info.ID()]
	delete(a.pending, info.ID())
	a.mu.Unlock()
	if !ok {
		a.Log.Errorf("delivery report for unknown page %d", info.ID())
		return
	}
	<-a.sem
	select {
	case a.settled <- struct{}{}:
	default:
	}
	switch {
	case info.Delivered():
		b.Ack(nil)
		// Every output has written the page: save now rather than in the
		// background, so a crash from here on does not send it again. A
		// save is a journal line, a few microseconds.
		_ = a.poller.Flush(context.Background())
	case a.dryRun:
		// --test prints and rejects every metric: nothing to re-send, and
		// the checkpoint must not move. Releasing frees the page's slot so
		// a dry run can show more than max_undelivered_pages pages.
		b.Release()
	default:
		// An output refused part of the page, or the output buffer
		// overflowed and dropped it. The page is not acked, so the
		// checkpoint cannot pass it; the core re-sends it (with a growing
		// pause), and a restart before that re-reads it.
		a.Log.Warnf("page of %d event(s) from stream %s was rejected or dropped by an output; sending it again",
			len(b.Events), b.Stream)
		b.Ack(errRejected)
	}
}

// waitSettled waits until no page is pending or d has passed, and returns
// how many are still pending.
func (a *AuditPull) waitSettled(d time.Duration) int {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		n := len(a.pending)
		a.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-a.settled:
		case <-deadline.C:
			a.mu.Lock()
			n = len(a.pending)
			a.mu.Unlock()
			return n
		}
	}
}

// toMetrics renders one metric per event: the event time as the metric
// time, low-cardinality tags, the id, the raw vendor JSON and the actor's
// identifiers as fields.
func (a *AuditPull) toMetrics(b *core.Batch) []telegraf.Metric {
	out := make([]telegraf.Metric, 0, len(b.Events))
	for _, e := range b.Events {
		// Built field by field: two maps per event, only to be copied into
		// the metric's sorted lists, cost more than the rest of the page.
		// Tags in their sorted order: AddTag keeps the list sorted, and
		// appends without moving the others.
		m := metric.New(a.Measurement, nil, nil, e.Time)
		if e.Action != "" {
			m.AddTag("event_action", e.Action)
		}
		if e.Type != "" {
			m.AddTag("event_type", e.Type)
		}
		m.AddTag("source", b.Source)
		m.AddTag("stream", b.Stream)
		m.AddField("event_id", e.ID)
		// The message is the event's bytes in the response body, not a
		// copy: the core never writes to a body once read, and a string
		// can't be written to by anyone downstream.
		m.AddField("message", unsafe.String(unsafe.SliceData(e.Raw), len(e.Raw)))
		for _, u := range e.User { // the source names them: user_uuid, user_email…
			if !m.HasField(u.Name) && u.Value != "" {
				m.AddField(u.Name, u.Value)
			}
		}
		out = append(out, m)
	}
	return out
}

// statsTags identify one input's statistics.
func (a *AuditPull) statsTags() map[string]string {
	return map[string]string{"source": a.cfg.Source, "stream": strings.Join(a.poller.Streams(), ",")}
}

// registerSelfstats publishes the core counters through Telegraf's selfstat
// registry as well, under the measurement "auditpull" (inputs.internal shows
// it as internal_auditpull in a Telegraf that has that plugin).
func (a *AuditPull) registerSelfstats() map[string]selfstat.Stat {
	tags := a.statsTags()
	out := map[string]selfstat.Stat{}
	for _, name := range core.MetricNames {
		out[name] = selfstat.Register(Name, name, tags)
	}
	out["pages_in_flight"] = selfstat.Register(Name, "pages_in_flight", tags)
	return out
}

// statsFields is the statistics measurement: the core counters by their
// core names, plus the pages waiting for Telegraf's outputs.
func (a *AuditPull) statsFields() map[string]any {
	snap := a.metrics.Snapshot()
	fields := make(map[string]any, len(snap)+1)
	for k, v := range snap {
		if k == "lag_seconds" || k == "rate_budget" {
			fields[k] = v
			continue
		}
		fields[k] = int64(v)
	}
	a.mu.Lock()
	fields["pages_in_flight"] = int64(len(a.pending))
	a.mu.Unlock()
	return fields
}

func (a *AuditPull) emitStats(ctx context.Context, stats map[string]selfstat.Stat) {
	t := time.NewTicker(time.Duration(a.StatsInterval))
	defer t.Stop()
	tags := a.statsTags()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		if tags["stream"] == "" {
			// Opened with the streams still to be listed (DeferOpen): once
			// they are, the counters move to the tags naming them (each is
			// set from the core's totals, so nothing is lost in the move).
			if t := a.statsTags(); t["stream"] != "" {
				for name := range stats {
					selfstat.Unregister(Name, name, tags)
				}
				tags, stats = t, a.registerSelfstats()
			}
		}
		fields := a.statsFields()
		for k, f := range fields {
			switch v := f.(type) {
			case int64:
				stats[k].Set(v)
			case float64:
				stats[k].Set(int64(v))
			}
		}
		a.acc.AddFields(a.Measurement+"_stats", fields, tags, time.Now())
	}
}

// New returns the plugin with its defaults, as inputs.Add registers it.
func New() *AuditPull {
	a := &AuditPull{}
	setDefaults(reflect.ValueOf(&a.Options).Elem(), core.CoreOptions())
	setDefaults(reflect.ValueOf(&a.TelegrafOptions).Elem(), core.OptionsOf(a.TelegrafOptions))
	return a
}

func init() {
	inputs.Add(Name, func() telegraf.Input { return New() })
}
