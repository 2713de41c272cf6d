// Package testkeys holds the signing keys of the NordPass MSP tests (the API
// authenticates with JWTs the client signs), generated once per test
// binary. It imports nothing of this module, so every test can use it,
// the simulator's own included (the test kit imports the simulator).
package testkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// EC is an EC P-256 key, the kind the MSP examples use (ES256).
var EC = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })

// All holds one key of each kind the MSP source signs with, by name: "ec"
// (EC above), "ec384" (P-384), "other" (a second P-256 key, for a key the
// API does not know), "rsa" (2048 bits) and "ed" (Ed25519). It is separate
// from EC because RSA generation is slow under -race.
var All = sync.OnceValue(func() map[string]crypto.Signer {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{
		"ec":    EC(),
		"ec384": must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
		"other": must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
		"rsa":   must(rsa.GenerateKey(rand.Reader, 2048)),
		"ed":    ed,
	}
})

// PKCS8 is k as the MSP source's private_key option takes it: a PKCS#8 PEM.
func PKCS8(k crypto.Signer) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// WriteEC writes EC as a PKCS#8 PEM into a temporary file and returns its
// path: the simulator's -msp-public-key and a private_key_file take it.
func WriteEC(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "msp.pem")
	if err := os.WriteFile(path, []byte(PKCS8(EC())), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func must[K any](k K, err error) K {
	if err != nil {
		panic(err)
	}
	return k
}
