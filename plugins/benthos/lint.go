package benthos

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
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
// private key file the lint run cannot read.
var lintKey = sync.OnceValue(func() string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return lintPlaceholder
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return lintPlaceholder
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
})

// lintConfig returns the core's verdict on an input config as lint
// messages. Structural problems (unknown fields, wrong types, a missing
// source) are left to Benthos' own linter so they are not reported twice.
func lintConfig(v any) []any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if _, ok := m["source"]; !ok {
		return nil
	}
	cm, _, err := splitAdapterSettings(m)
	if err == nil {
		if src, ok := cm["source"].(string); ok {
			if sec, ok := cm[src].(map[string]any); ok {
				cm[src] = placeholderSecrets(src, sec)
			}
		}
		_, err = core.ParseMap(cm)
	}
	if err != nil {
		return []any{err.Error()}
	}
	return []any{}
}

// placeholderSecrets copies a source section, replacing secrets that are
// empty or read from a file by a placeholder.
func placeholderSecrets(source string, sec map[string]any) map[string]any {
	secret := map[string]bool{}
	for _, o := range core.SourceOptions(source) {
		secret[o.Key] = o.Kind == core.KindSecret
	}
	out := make(map[string]any, len(sec))
	for k, v := range sec {
		if s, ok := v.(string); ok && secret[source+"."+k] && (strings.TrimSpace(s) == "" || strings.HasPrefix(s, "file:") || strings.HasPrefix(s, "env:")) {
			v = lintPlaceholder
			if k == "private_key" {
				// Keys are parsed at validation: stand in with a real one.
				v = lintKey()
			}
		}
		out[k] = v
	}
	return out
}
