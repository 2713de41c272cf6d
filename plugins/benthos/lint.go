package benthos

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"strings"
	"sync"

	"github.com/benthosdev/benthos/v4/public/bloblang"

	"github.com/auditpull/auditpull/core"
)

// lintMethod is a Bloblang method that validates an auditpull input config
// with the core. The input's ConfigSpec lint rule calls it, so `benthos
// lint` (and a StreamBuilder) reports a bad duration, an unknown region or
// a missing token with the same message, naming the same key, as the input
// would at startup — before anything runs.
const lintMethod = "auditpull_config_lint"

// registerLintMethod must run before the input's ConfigSpec is built: the
// lint rule is parsed then.
func registerLintMethod() {
	spec := bloblang.NewPluginSpec().
		Category("Object & Array Manipulation").
		Description("Checks an `auditpull` input configuration and returns its errors as an array of strings (empty when valid). The `auditpull` input's linter uses it.")
	err := bloblang.RegisterMethodV2(lintMethod, spec, func(*bloblang.ParsedParams) (bloblang.Method, error) {
		return func(v any) (any, error) { return lintConfig(v), nil }, nil
	})
	if err != nil {
		panic(err)
	}
}

// lintPlaceholder stands in for secrets that a lint run cannot see: a
// ${VAR} that is not set where the config is linted, or a file:/path that
// exists only on the server. Their presence is checked at startup.
const lintPlaceholder = "lint-placeholder"

// lintKey is a throwaway Ed25519 key in PEM, made once, standing in for a
// private key file the lint run cannot read. Neither call can fail: the
// key comes from crypto/rand, and Ed25519 keys always marshal.
var lintKey = sync.OnceValue(func() string {
	_, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
})

// lintConfig returns the core's verdict on an input config as lint
// messages. Structural problems (unknown fields, wrong types, a missing
// source) are left to Benthos' own linter so they are not reported twice.
func lintConfig(v any) []any {
	m, ok := v.(map[string]any)
	if _, hasSource := m["source"]; !ok || !hasSource {
		return nil
	}
	cm, _, err := splitAdapterSettings(m)
	if err == nil {
		placeholderSecrets(cm)
		_, err = core.ParseMap(cm)
	}
	if err != nil {
		return []any{err.Error()}
	}
	return []any{}
}

// placeholderSecrets replaces the chosen source's section of m, and of
// each tenant, by a copy in which secrets that are empty or read from
// elsewhere are placeholders.
func placeholderSecrets(m map[string]any) {
	src, _ := m["source"].(string)
	if sec, ok := m[src].(map[string]any); ok {
		m[src] = placeholderSection(src, sec)
	}
	tenants, _ := m["tenants"].([]any)
	out := make([]any, len(tenants))
	for i, t := range tenants {
		out[i] = t
		if tm, ok := t.(map[string]any); ok {
			if sec, ok := tm[src].(map[string]any); ok {
				tm = maps.Clone(tm)
				tm[src] = placeholderSection(src, sec)
				out[i] = tm
			}
		}
	}
	if tenants != nil {
		m["tenants"] = out
	}
}

func placeholderSection(src string, sec map[string]any) map[string]any {
	out := maps.Clone(sec)
	for _, o := range core.SourceOptions(src) {
		k := strings.TrimPrefix(o.Key, src+".")
		s, ok := sec[k].(string)
		if !ok || o.Kind != core.KindSecret || strings.TrimSpace(s) != "" && !strings.HasPrefix(s, "file:") && !strings.HasPrefix(s, "env:") {
			continue
		}
		out[k] = lintPlaceholder
		if k == "private_key" {
			// Keys are parsed at validation: stand in with a real one.
			out[k] = lintKey()
		}
	}
	return out
}
