package benthos

import (
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/sim"
)

// The tls block works as in Benthos' HTTP components: a vendor behind a
// certificate of a private CA is read once its root is given there, and the
// core's own certificate options may not be given beside it.
func TestTLSBlockTrustsAPrivateCA(t *testing.T) {
	now := time.Now()
	from := now.Add(-24 * time.Hour).Truncate(time.Second)
	np := sim.NewNordPass(sim.NordPassConfig{Seed: 31, Count: 200, From: from, To: now.Add(-time.Minute), RateLimit: -1})
	np.AddToken(testToken, sim.TokenValid)
	srv := httptest.NewTLSServer(sim.NewServer().Mount(sim.NordPassPrefix, np))
	t.Cleanup(srv.Close)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	// inputConf indents the first line of each extra by four spaces.
	indented := "      " + strings.ReplaceAll(strings.TrimSpace(ca), "\n", "\n          ")
	conf := func(extra string) string {
		return inputConf(srv.URL+sim.NordPassPrefix, from.Add(-time.Hour), "checkpoint: {type: memory}",
			"tls:", "  enabled: true", "  root_cas: |", indented, extra)
	}

	out := newCollector()
	r := startRun(t, conf(""), "", out)
	want := bagOf(np.Truth(from.Add(-time.Hour), now))
	waitFor(t, 30*time.Second, "every event over TLS", func() bool { return out.ackedCount() >= want.size() })
	r.stop(5 * time.Second)
	requireSameBag(t, "delivered", out.ackedBag(), want)

	t.Run("the core's ca_file beside it is refused, naming the key", func(t *testing.T) {
		pc, err := configSpec().ParseYAML(strings.TrimPrefix(conf("http: {ca_file: /etc/ssl/ca.pem}"), "auditpull:\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newInput(pc, nil); err == nil || !strings.Contains(err.Error(), "tls") || !strings.Contains(err.Error(), "http.ca_file") {
			t.Fatalf("want an error naming tls and http.ca_file, got %v", err)
		}
	})
}
