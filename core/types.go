package core

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that also accepts a day suffix ("7d", "90d"),
// because lookbacks and windows are naturally written in days.
type Duration time.Duration

// Unpack implements ucfg.StringUnpacker.
func (d *Duration) Unpack(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses Go durations plus a whole-day suffix ("7d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 5m, 12h, 7d)", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 5m, 12h, 7d)", s)
	}
	return days + v, nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Secret holds a credential. It never prints its value: String, GoString and
// MarshalText all redact, so a Secret that slips into a log line, an error or
// a metric label shows "[redacted]".
//
// In configuration a secret is given inline (hosts expand their own
// ${ENV_VAR} references before auditpull sees the value), as "env:NAME" to
// read an environment variable, or as "file:/path/to/file"; whichever it
// is, the value is used without surrounding whitespace.
type Secret struct{ v string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{v: v} }

// storeReference is a Telegraf secret-store reference, @{store:key}.
// Telegraf resolves it only in an input's own secret options, so one that
// reaches the core (in a tenant table) would go to the vendor as the
// credential.
var storeReference = regexp.MustCompile(`^@\{\w+:\w+\}$`)

// Unpack implements ucfg.StringUnpacker. Surrounding whitespace is never
// part of a credential, wherever the value comes from: a YAML block scalar
// (token: |) or a pasted line keeps a line break that no API would take.
func (s *Secret) Unpack(v string) error {
	v = strings.TrimSpace(v)
	if storeReference.MatchString(v) {
		return errors.New("a secret-store reference (@{store:key}) the host did not resolve: Telegraf resolves them only in the input's own options, not inside tenants; give the value, ${VAR}, env:NAME or file:/path")
	}
	if name, ok := strings.CutPrefix(v, "env:"); ok {
		val, set := os.LookupEnv(name)
		if !set || val == "" {
			return fmt.Errorf("environment variable %s (named by env:) is not set", name)
		}
		v = strings.TrimSpace(val)
	} else if path, ok := strings.CutPrefix(v, "file:"); ok {
		path = strings.TrimPrefix(path, "//")
		b, err := os.ReadFile(path)
		if err != nil {
			// The path is not secret; the content is never echoed.
			return fmt.Errorf("reading secret file: %w", err)
		}
		v = strings.TrimSpace(string(b))
	}
	s.v = v
	return nil
}

// Reveal returns the value. Call it only where the value goes on the wire.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s.v != "" }

func (s Secret) String() string                { return "[redacted]" }
func (s Secret) GoString() string              { return "[redacted]" }
func (s Secret) MarshalText() ([]byte, error)  { return []byte("[redacted]"), nil }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte("[redacted]")) }

// LogValue keeps a secret out of every slog handler, not only LineHandler.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }
