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

	"github.com/auditpull/auditpull/core"
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

	cfg          *core.Config
	dryRun       bool
	flushOutputs func()

	// running state, owned by Start/Stop
	poller  *core.Poller
	tacc    telegraf.TrackingAccumulator
	mu      sync.Mutex
	pending map[telegraf.TrackingID]*core.Batch

	stopRead, stopOther context.CancelFunc
	readWG, otherWG     sync.WaitGroup
}

// TelegrafOptions are the options only this plugin has, declared with the
// core's schema tags so that sample.conf documents them beside the core's.
type TelegrafOptions struct {
	Measurement     string          `toml:"measurement" config:"measurement" default:"auditpull" check:"nonempty" doc:"Name of the event measurement. Statistics go to <measurement>_stats."`
	StatsInterval   config.Duration `toml:"stats_interval" config:"stats_interval" kind:"duration" default:"60s" check:"nonneg" doc:"How often to emit the statistics measurement; 0s disables it."`
	ShutdownTimeout config.Duration `toml:"shutdown_timeout" config:"shutdown_timeout" kind:"duration" default:"15s" check:"nonneg" doc:"On shutdown, how long to wait for pages already handed to Telegraf to be written by the outputs, so that their position is saved. Pages still unwritten then are read again at the next start (at-least-once)."`
}

func (*AuditPull) SampleConfig() string { return sampleConfig }

// SetDryRun makes the input leave its checkpoint untouched: it reads from
// the saved position but never writes it, and pages the outputs reject are
// not re-sent. The Telegraf build sets it for --test, where Telegraf prints
// and then rejects every metric.
func (a *AuditPull) SetDryRun(on bool) { a.dryRun = on }

// SetOutputFlusher gives Stop a way to make Telegraf's outputs write what
// they hold now. Telegraf stops its inputs before the outputs' last flush,
// so without it the pages handed over last wait for each output's next
// flush_interval tick, and a tick later than shutdown_timeout leaves them
// unsaved, to be written again by the next run. The auditpull build sets it
// in --once and service mode to send the process SIGUSR1, the agent's own
// flush signal, which it catches for the agent's whole run; --test and the
// execd shim set none, since a process that does not catch SIGUSR1 dies of
// it.
func (a *AuditPull) SetOutputFlusher(flush func()) { a.flushOutputs = flush }

// Init validates the configuration completely: the options are translated
// into the core schema and parsed there, so an error names the option as
// every auditpull host does ("auditpull config: nordpass.token: required…").
func (a *AuditPull) Init() error {
	if err := core.CheckOptions(&a.TelegrafOptions); err != nil {
		return err
	}
	m, err := a.Options.coreMap()
	if err != nil {
		return err
	}
	a.cfg, err = core.ParseMap(m)
	return err
}

// Start opens the poller (loading the checkpoint; a corrupt one is an error
// here, never a silent restart) and starts reading.
func (a *AuditPull) Start(acc telegraf.Accumulator) error {
	if a.cfg == nil {
		if err := a.Init(); err != nil {
			return err
		}
	}
	if a.dryRun {
		a.Log.Info("dry run: the checkpoint is read but not written")
	}
	p, err := core.NewPoller(context.Background(), a.cfg, core.Options{
		Logger:   core.NewPrinterLogger(a.Log),
		ReadOnly: a.dryRun,
		// Telegraf starts its inputs one after another: a vendor that is
		// down must not hold up the agent (the read loop retries).
		DeferOpen: true,
	})
	if err != nil {
		return err
	}
	a.poller = p
	// The core keeps at most max_undelivered_pages pages unacked, and acks
	// none before its delivery report is read: so the tracking report
	// channel of that size, which panics when full, never fills.
	a.tacc = acc.WithTracking(a.cfg.MaxUndeliveredPages)
	a.pending = make(map[telegraf.TrackingID]*core.Batch, a.cfg.MaxUndeliveredPages)

	readCtx, stopRead := context.WithCancel(context.Background())
	otherCtx, stopOther := context.WithCancel(context.Background())
	a.stopRead, a.stopOther = stopRead, stopOther
	a.readWG.Go(func() {
		if err := p.Run(readCtx, a.deliver, acc.AddError); err != nil {
			acc.AddError(fmt.Errorf("polling stopped until the configuration or credentials are fixed and Telegraf is restarted: %w", err))
		}
	})
	a.otherWG.Go(func() { a.track(otherCtx) })
	if a.StatsInterval > 0 {
		a.otherWG.Go(func() { a.emitStats(otherCtx, acc) })
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

	wait := time.Duration(a.ShutdownTimeout)
	switch left := a.waitSettled(wait); {
	case left == 0:
	case a.flushOutputs != nil:
		a.Log.Warnf("%d page(s) not yet delivered by the outputs %s after asking them to flush (is an output failing?); "+
			"they will be read again at the next start", left, wait)
	default:
		// Where the outputs cannot be asked to flush (Windows, another
		// build), this is how --once comes to write every event again at
		// each run: say what to change.
		a.Log.Warnf("%d page(s) not yet delivered by the outputs after %s; they will be read again at the next start. "+
			"Until the inputs have stopped, outputs write only every flush_interval: keep flush_interval + flush_jitter "+
			"below shutdown_timeout", left, wait)
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

// deliver hands a page to Telegraf as one tracked group.
func (a *AuditPull) deliver(_ context.Context, b *core.Batch) error {
	group := a.toMetrics(b)
	// Hold the lock across AddTrackingMetricGroup: the outputs may
	// deliver the group before it returns, and track() must find it.
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending[a.tacc.AddTrackingMetricGroup(group)] = b
	return nil
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

// inFlight is the number of pages waiting for Telegraf's outputs.
func (a *AuditPull) inFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

// waitSettled waits until Telegraf has reported every page or d has
// passed, and returns how many are still pending.
//
// With a flusher it asks the outputs to flush at once, and again with a
// doubling pause while pages are pending: the last metrics may still be
// on their way to the output buffers at the first request, and an output
// that is failing is not retried faster than that.
func (a *AuditPull) waitSettled(d time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	settled := make(chan struct{})
	go func() { _ = a.poller.WaitReported(ctx); close(settled) }()
	for pause := flushRetryFirst; ; pause = min(2*pause, flushRetryMax) {
		if a.flushOutputs != nil && a.inFlight() > 0 {
			a.flushOutputs()
		}
		select {
		case <-settled:
			return a.inFlight()
		case <-time.After(pause):
		}
	}
}

// The pauses between two flush requests of one Stop.
const (
	flushRetryFirst = 200 * time.Millisecond
	flushRetryMax   = 5 * time.Second
)

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

// emitStats writes the statistics measurement every stats_interval: the
// core counters by their core names, plus the pages waiting for Telegraf's
// outputs.
func (a *AuditPull) emitStats(ctx context.Context, acc telegraf.Accumulator) {
	t := time.NewTicker(time.Duration(a.StatsInterval))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		// A field's type is fixed in InfluxDB: whole numbers stay
		// integers, the other gauges are fractions.
		fields := a.poller.Metrics().Fields()
		fields["pages_in_flight"] = int64(a.inFlight())
		// Read every time: opened with the streams still to be listed
		// (DeferOpen), the poller names them only once they are.
		tags := map[string]string{"source": a.cfg.Source, "stream": strings.Join(a.poller.Streams(), ",")}
		acc.AddFields(a.Measurement+"_stats", fields, tags, time.Now())
	}
}

// New returns the plugin with its defaults, as inputs.Add registers it.
func New() *AuditPull {
	a := &AuditPull{}
	opts := append(core.OptionsFor("telegraf", core.CoreOptions()), core.OptionsOf(a.TelegrafOptions)...)
	if err := core.SetDefaults(a, "toml", opts); err != nil {
		panic(err) // options_gen.go is stale, or a declaration is wrong
	}
	return a
}

func init() {
	inputs.Add(Name, func() telegraf.Input { return New() })
}

//go:generate go run ../../internal/gen

// coreMap translates the options into the map core.ParseMap reads, leaving
// out what is unset so that the core's and the source's defaults apply
// (see core.MapOf).
//
// Telegraf has already replaced ${VAR} references and resolved secret
// stores; the core takes every value literally, so strings pass unchanged.
func (o *Options) coreMap() (map[string]any, error) {
	return core.MapOf(o, "toml", telegrafValue)
}

// telegrafValue converts Telegraf's own types: durations become strings
// ("1h30m0s"), secrets are revealed (the map is handed straight to the
// core and never logged; an empty one reads "" and is left out).
func telegrafValue(v reflect.Value) (any, bool, error) {
	switch x := v.Addr().Interface().(type) {
	case *config.Duration:
		return time.Duration(*x).String(), true, nil
	case *config.Secret:
		buf, err := x.Get()
		if err != nil {
			// The error names store references, never the value.
			return nil, true, fmt.Errorf("cannot read secret: %w", err)
		}
		defer buf.Destroy()
		return buf.String(), true, nil
	}
	return nil, false, nil
}
