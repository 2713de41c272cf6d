package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-ucfg"
	"gopkg.in/yaml.v3"
)

// A tenant is one account of an input that reads many (a managed service
// provider's customers): its own credentials and filters, merged over the
// input's source section, and its own checkpoint, keyed by its stream.
// The tenants share the input's request budget and poll loop; a credential
// the vendor refuses stops that tenant only (see Poller.isolate).
type tenant struct {
	key     string
	cfg     *Config
	streams []*stream
	opened  bool
	retryAt time.Time // wall time of the next open attempt, while !opened
	fails   int       // open attempts failed in a row
	down    int       // stopped streams, plus one while a fatal open failure lasts

	// Replicas sharing tenants (core/share.go).
	mine    bool      // the Share assigns it to this replica (always, without one)
	holder  string    // the other replica last seen holding its lease
	leaveBy time.Time // being handed over: detached once drained, or by then
}

// parseTenants reads the tenants of the input, inline and from
// tenants_file, and checks each one as the source checks a whole config,
// so that a bad tenant never starts. Each error names the tenant's key
// (tenants[3].stream, tenants_file[3].nordpass.token).
func (c *Config) parseTenants(raw *ucfg.Config) error {
	var entries []*ucfg.Config
	var origins []string
	add := func(list *ucfg.Config, origin string) error {
		n, err := list.CountField("tenants")
		if err != nil {
			return &ConfigError{Key: origin, Msg: "must be a list of tenants, each with a stream and a " + c.Source + " section"}
		}
		for i := 0; i < n; i++ {
			sub, err := list.Child("tenants", i, UcfgOptions...)
			if err != nil {
				return &ConfigError{Key: fmt.Sprintf("%s[%d]", origin, i), Msg: "must be a section with stream and " + c.Source}
			}
			entries = append(entries, sub)
			origins = append(origins, fmt.Sprintf("%s[%d]", origin, i))
		}
		return nil
	}
	if raw.HasField("tenants") {
		list := raw
		text, err := raw.String("tenants", -1, UcfgOptions...)
		if err == nil {
			// Hosts whose properties are flat strings pass the list as
			// YAML or JSON text ("" when it is not set).
			list, err = tenantsFromText([]byte(text))
			if err != nil {
				return &ConfigError{Key: "tenants", Msg: err.Error()}
			}
		}
		if list != nil {
			if err := add(list, "tenants"); err != nil {
				return err
			}
		}
	}
	if c.TenantsFile != "" {
		b, err := os.ReadFile(c.TenantsFile)
		if err != nil {
			return &ConfigError{Key: "tenants_file", Msg: fmt.Sprintf("cannot read %s: %v", c.TenantsFile, errors.Unwrap(err))}
		}
		list, err := tenantsFromText(b)
		if err != nil {
			return &ConfigError{Key: "tenants_file", Msg: fmt.Sprintf("%s: %v", c.TenantsFile, err)}
		}
		n := len(entries)
		if list != nil {
			if err := add(list, "tenants_file"); err != nil {
				return err
			}
		}
		if len(entries) == n {
			return &ConfigError{Key: "tenants_file", Msg: c.TenantsFile + " lists no tenants"}
		}
	}
	if len(entries) == 0 {
		return nil
	}
	if c.Stream != "" {
		return &ConfigError{Key: "stream", Msg: "not used with tenants: each tenant names its own stream"}
	}
	// The shared section is checked for misspelt keys on its own, where
	// its keys are the user's; what it lacks (a token) a tenant may add.
	if s := lookupSource(c.Source).Settings; s != nil {
		if err := checkKeys(c.source, reflect.TypeOf(s()).Elem(), c.Source+".", nil); err != nil {
			return err
		}
	}
	seen := map[string]string{}
	for i, e := range entries {
		t, err := c.tenantConfig(e, origins[i])
		if err != nil {
			return err
		}
		if first, dup := seen[t.Stream]; dup {
			return &ConfigError{Key: origins[i] + ".stream", Msg: fmt.Sprintf("%q is the stream of %s too; each tenant needs its own", t.Stream, first)}
		}
		seen[t.Stream] = origins[i]
		c.tenants = append(c.tenants, t)
	}
	return nil
}

// tenantConfig builds the configuration of one tenant: the input's, with
// the tenant's stream and its section merged over the source's.
func (c *Config) tenantConfig(e *ucfg.Config, at string) (*Config, error) {
	for _, k := range e.GetFields() {
		switch {
		case k == "stream" || k == c.Source:
		case slices.Contains(SourceNames(), k):
			return nil, &ConfigError{Key: at + "." + k, Msg: fmt.Sprintf("section given but source is %q", c.Source)}
		default:
			return nil, &ConfigError{Key: at + "." + k, Msg: fmt.Sprintf("unknown option; a tenant holds stream and a %s section", c.Source)}
		}
	}
	stream, err := e.String("stream", -1, UcfgOptions...)
	if err != nil || stream == "" {
		return nil, &ConfigError{Key: at + ".stream", Msg: "required: the tenant's checkpoint key, unique in the input (e.g. the customer's name)"}
	}
	merged := ucfg.New()
	opts := append(slices.Clone(UcfgOptions), ucfg.ReplaceArrValues)
	if err := merged.Merge(c.source, opts...); err != nil {
		return nil, &ConfigError{Key: c.Source, Msg: err.Error()}
	}
	if e.HasField(c.Source) {
		sec, err := e.Child(c.Source, -1, UcfgOptions...)
		if err != nil {
			return nil, &ConfigError{Key: at + "." + c.Source, Msg: "must be a section of settings"}
		}
		if err := merged.Merge(sec, opts...); err != nil {
			return nil, &ConfigError{Key: at + "." + c.Source, Msg: err.Error()}
		}
	}
	t := *c
	t.Stream, t.source, t.checked, t.tenants, t.Tenants = stream, merged, nil, nil, nil
	if err := lookupSource(c.Source).Validate(&t); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return nil, &ConfigError{Key: at + "." + ce.Key, Msg: ce.Msg}
		}
		return nil, &ConfigError{Key: at, Msg: err.Error()}
	}
	return &t, nil
}

// tenantsFromText reads a YAML (or JSON) list of tenants, bare or under a
// "tenants" key.
func tenantsFromText(b []byte) (*ucfg.Config, error) {
	if strings.TrimSpace(string(b)) == "" {
		return nil, nil
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("not a YAML or JSON list of tenants: %w", err)
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 && m["tenants"] != nil {
		v = m["tenants"]
	}
	if _, ok := v.([]any); !ok {
		return nil, errors.New("must be a list of tenants, each with a stream and the source's section")
	}
	return ucfgFrom(map[string]any{"tenants": v})
}

// TenantStreams lists the tenants' stream names, in configuration order; none
// for an input that reads one account.
func (c *Config) TenantStreams() []string {
	out := make([]string, len(c.tenants))
	for i, t := range c.tenants {
		out[i] = t.Stream
	}
	return out
}

// openTenant opens a tenant's source(s) and loads their checkpoints; the
// streams join the poll loop at once.
func (p *Poller) openTenant(ctx context.Context, t *tenant) error {
	env := SourceEnv{Config: t.cfg, Logger: p.log, Clock: p.clock, Metrics: p.metrics, api: &p.api, before: p.before, tls: p.tls}
	octx, cancel := context.WithTimeout(ctx, t.cfg.RequestTimeout.D())
	defer cancel()
	srcs, err := lookupSource(t.cfg.Source).Open(octx, env)
	if err != nil {
		return err
	}
	streams, err := p.openStreams(ctx, srcs, t.key)
	if err != nil {
		return err
	}
	for _, s := range streams {
		s.tenant = t
	}
	p.mu.Lock()
	t.streams, t.opened = streams, true
	p.streams = append(p.streams, streams...)
	p.mu.Unlock()
	return nil
}

// openTenants tries to open the tenants that are due. A failure is the
// tenant's alone: it is logged, retried later, and returned so the host
// reports it, never as fatal.
func (p *Poller) openTenants(ctx context.Context) error {
	var first error
	for _, t := range p.tenants {
		if t.opened || !t.mine || time.Now().Before(t.retryAt) {
			continue
		}
		if !p.claim(ctx, t) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		err := p.openTenant(ctx, t)
		if err == nil {
			p.metrics.tenantsRead.Add(1)
			if t.fails > 0 {
				p.log.Info("tenant opened", "stream", t.key)
			}
			t.fails = 0
			p.tenantDown(t, -t.down)
			continue
		}
		p.unclaim(t)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.metrics.Errors.Add(1)
		t.fails++
		wait := min(p.cfg.Retry.InitialBackoff.D()<<min(t.fails, 20), p.cfg.TenantRetry.D())
		if IsFatal(err) {
			wait = p.cfg.TenantRetry.D()
			if t.down == 0 {
				p.tenantDown(t, 1)
			}
		}
		t.retryAt = time.Now().Add(wait)
		p.log.Error("tenant not opened; the other tenants go on", "stream", t.key, "retry_in", wait.String(), "error", err.Error())
		if first == nil {
			first = &tenantError{key: t.key, wait: wait, err: err}
		}
	}
	return first
}

// nextTenantOpen is the earliest wall time a tenant waits to be opened
// (zero: none waits).
func (p *Poller) nextTenantOpen() time.Time {
	var at time.Time
	for _, t := range p.tenants {
		if !t.opened && t.mine && (at.IsZero() || t.retryAt.Before(at)) {
			at = t.retryAt
		}
		if !t.leaveBy.IsZero() && (at.IsZero() || t.leaveBy.Before(at)) {
			at = t.leaveBy
		}
	}
	return at
}

// isolate handles a fatal error of a tenant's stream: only that stream
// stops, until tenant_retry has passed, so a credential fixed at the
// vendor resumes without a restart. Its checkpoint stays where delivery
// ended. The error returned is for the host to report; it is not fatal.
func (p *Poller) isolate(s *stream, err error) error {
	wait := p.cfg.TenantRetry.D()
	s.retryAt = time.Now().Add(wait)
	if !s.stopped {
		s.stopped = true
		p.tenantDown(s.tenant, 1)
	}
	p.log.Error("tenant stopped; the other tenants go on, and it is tried again later", "stream", s.key, "retry_in", wait.String(), "error", err.Error())
	return &tenantError{key: s.key, wait: wait, err: err}
}

// resumed is called when a stream read a page: a stream stopped by
// isolate works again.
func (p *Poller) resumed(s *stream) {
	s.fails = 0
	if s.stopped {
		s.stopped = false
		p.tenantDown(s.tenant, -1)
		p.log.Info("tenant resumed", "stream", s.key)
	}
}

// tenantDown moves t's count of stopped parts, and the tenants_failed
// gauge when t stops or works again.
func (p *Poller) tenantDown(t *tenant, d int) {
	was := t.down > 0
	t.down += d
	switch now := t.down > 0; {
	case now && !was:
		p.metrics.tenantsFailed.Add(1)
	case was && !now:
		p.metrics.tenantsFailed.Add(-1)
	}
}

// tenantBackoff paces a tenant's stream after a transient failure. Its
// requests are tried once per step (withoutRetryWaits), so a vendor that
// is down for one tenant never holds the shared poll loop in a retry's
// sleep: the stream waits here instead, doubling from
// retry.initial_backoff. After retry.max_attempts the failure is reported,
// as a request that used up its retries is, and the waits go on doubling
// up to tenant_retry, so a long outage costs the others a request now and
// then, not a timeout every poll.
func (p *Poller) tenantBackoff(s *stream, err error) (wait time.Duration, report bool) {
	r := p.cfg.Retry
	s.fails++
	if s.fails < r.MaxAttempts {
		wait = min(r.InitialBackoff.D()<<min(s.fails-1, 20), r.MaxBackoff.D())
	} else {
		wait = min(r.MaxBackoff.D()<<min(s.fails-r.MaxAttempts, 20), max(p.cfg.TenantRetry.D(), r.MaxBackoff.D()))
		report = true
	}
	wait = time.Duration(float64(wait) * (0.75 + rand.Float64()/2))
	if th := (*ThrottledError)(nil); errors.As(err, &th) {
		wait = max(wait, th.RetryAfter)
	}
	return wait, report
}

// tenantError reports a tenant's failure to the host without ending the
// input: it does not unwrap, so IsFatal sees it as transient.
type tenantError struct {
	key  string
	wait time.Duration
	err  error
}

func (e *tenantError) Error() string {
	return fmt.Sprintf("tenant %s stopped, retried in %s: %v", e.key, e.wait, e.err)
}
