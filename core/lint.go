package core

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"strings"
	"sync"
)

// Lint checks a configuration as a host's linter sees it, before anything
// runs and often on another machine: a secret that is empty (an unset
// ${VAR} a host substituted) or read from elsewhere (env:, file:) is taken
// as given, because only the running input can read it; startup checks it.
// Everything else is checked as ParseMap checks it, with the same messages
// naming the same keys. m is not changed.
func Lint(m map[string]any) error {
	m = maps.Clone(m)
	src, _ := m["source"].(string)
	if sec, ok := m[src].(map[string]any); ok {
		m[src] = placeholderSecrets(src, sec)
	}
	if tenants, ok := m["tenants"].([]any); ok {
		out := make([]any, len(tenants))
		for i, t := range tenants {
			out[i] = t
			if tm, ok := t.(map[string]any); ok {
				if sec, ok := tm[src].(map[string]any); ok {
					tm = maps.Clone(tm)
					tm[src] = placeholderSecrets(src, sec)
					out[i] = tm
				}
			}
		}
		m["tenants"] = out
	}
	_, err := ParseMap(m)
	return err
}

// lintPlaceholder stands in for a secret Lint cannot read.
const lintPlaceholder = "lint-placeholder"

// lintPEMKey stands in for a private key (format:"pem"), which its source
// parses at validation: a throwaway Ed25519 key, made once. Neither call
// can fail: the key comes from crypto/rand, and Ed25519 keys always
// marshal.
var lintPEMKey = sync.OnceValue(func() string {
	_, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
})

// placeholderSecrets copies a source's section with its unreadable secrets
// replaced by placeholders.
func placeholderSecrets(src string, sec map[string]any) map[string]any {
	out := maps.Clone(sec)
	for _, o := range SourceOptions(src) {
		k := strings.TrimPrefix(o.Key, src+".")
		s, ok := sec[k].(string)
		if !ok || o.Kind != KindSecret || strings.TrimSpace(s) != "" && !strings.HasPrefix(s, "file:") && !strings.HasPrefix(s, "env:") {
			continue
		}
		out[k] = lintPlaceholder
		if o.Format == "pem" {
			out[k] = lintPEMKey()
		}
	}
	return out
}
