package chaos

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditpull/auditpull/test/bench/hostrun"
	"github.com/auditpull/auditpull/test/sim"
)

// tokenEnv holds the NordPass token for every host process; configs refer
// to it as ${AP_CHAOS_NORDPASS_TOKEN}, so it is in no file and no command
// line, only in the processes' environment.
const tokenEnv = "AP_CHAOS_NORDPASS_TOKEN"

// settings of one run of the suite, from the environment (see doc.go).
type settings struct {
	kills      int
	hosts      []hostrun.Host
	faults     int
	faultHosts []hostrun.Host
	seed       int64
	token      string // the valid token
	refused    string // a token the API refuses (expired)
}

func readSettings(t *testing.T) settings {
	t.Helper()
	k := os.Getenv("AUDITPULL_CHAOS_KILLS")
	if k == "" {
		t.Skip("the crash and fault suite runs with make chaos / make test-chaos (set AUDITPULL_CHAOS_KILLS to run it here)")
	}
	var s settings
	var err error
	if s.kills, err = strconv.Atoi(k); err != nil || s.kills < 1 {
		t.Fatalf("AUDITPULL_CHAOS_KILLS=%q: want a positive number", k)
	}
	s.faults = 10000
	if v := os.Getenv("AUDITPULL_CHAOS_FAULTS"); v != "" {
		if s.faults, err = strconv.Atoi(v); err != nil || s.faults < 0 {
			t.Fatalf("AUDITPULL_CHAOS_FAULTS=%q: want a number", v)
		}
	}
	s.seed = time.Now().UnixNano() % 1_000_000
	if v := os.Getenv("AUDITPULL_CHAOS_SEED"); v != "" {
		if s.seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("AUDITPULL_CHAOS_SEED=%q: want a number", v)
		}
	}
	hosts := func(env, def string) []hostrun.Host {
		v := os.Getenv(env)
		if v == "" {
			v = def
		}
		var out []hostrun.Host
		for _, h := range strings.Split(v, ",") {
			switch h := hostrun.Host(strings.TrimSpace(h)); h {
			case hostrun.Benthos, hostrun.BenthosFileCache, hostrun.Telegraf, hostrun.FluentBit:
				out = append(out, h)
			case "":
			default:
				t.Fatalf("%s: unknown host %q (benthos, benthos-file-cache, telegraf, fluentbit)", env, h)
			}
		}
		return out
	}
	s.hosts = hosts("AUDITPULL_CHAOS_HOSTS", "benthos,benthos-file-cache,telegraf,fluentbit")
	s.faultHosts = hosts("AUDITPULL_CHAOS_FAULT_HOSTS", "benthos")
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	s.token = "np-chaos-SECRET-" + hex.EncodeToString(b[:6])
	s.refused = "np-chaos-REFUSED-" + hex.EncodeToString(b[6:])
	return s
}

// artifacts records every file a host process wrote — its logs and its
// outputs — for the secrets check at the end of the suite.
type artifacts struct {
	base  string
	mu    sync.Mutex
	logs  []string
	files []string
}

// dir makes a directory for one run of the suite.
func (a *artifacts) dir(t *testing.T, name string) string {
	t.Helper()
	d, err := os.MkdirTemp(a.base, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (a *artifacts) addProc(p *hostrun.Proc) {
	a.mu.Lock()
	a.logs = append(a.logs, p.Logs()...)
	a.mu.Unlock()
}

func (a *artifacts) addFile(path string) {
	a.mu.Lock()
	a.files = append(a.files, path)
	a.mu.Unlock()
}

// report collects the printed figures of the suite.
type report struct {
	mu     sync.Mutex
	kills  []killResult
	faults []faultResult
}

func TestCrashAndFaultSuite(t *testing.T) {
	s := readSettings(t)
	need := append(append([]hostrun.Host(nil), s.hosts...), s.faultHosts...)
	t0 := time.Now()
	bin, errs := hostrun.Find(t.TempDir(), need...)
	for h, err := range errs {
		t.Fatalf("%s: %v", h, err)
	}
	t.Logf("binaries ready in %s; seed %d (AUDITPULL_CHAOS_SEED=%d reproduces the kill moments and faults)", time.Since(t0).Round(time.Millisecond), s.seed, s.seed)

	// Every run's directory lives until the end of the suite, so the
	// secrets check can read all logs.
	var art artifacts
	art.base = t.TempDir()
	var rep report
	t.Run("hosts", func(t *testing.T) {
		for i, h := range s.hosts {
			t.Run("kill/"+string(h), func(t *testing.T) {
				t.Parallel()
				r := killRun(t, s, bin, h, s.seed+int64(i), &art)
				rep.mu.Lock()
				rep.kills = append(rep.kills, r)
				rep.mu.Unlock()
			})
		}
		for i, h := range s.hosts {
			t.Run("refused-token/"+string(h), func(t *testing.T) {
				t.Parallel()
				refusedRun(t, s, bin, h, s.seed+200+int64(i), &art)
			})
		}
		if s.faults > 0 {
			for i, h := range s.faultHosts {
				t.Run("faults/"+string(h), func(t *testing.T) {
					t.Parallel()
					r := faultRun(t, s, bin, h, s.seed+100+int64(i), &art)
					rep.mu.Lock()
					rep.faults = append(rep.faults, r)
					rep.mu.Unlock()
				})
			}
		}
	})

	t.Run("no secret in any log line", func(t *testing.T) {
		lines, hits, err := findSecrets(art.logs, art.files, []string{s.token, s.refused}, func(where, line string) {
			t.Errorf("a token appears in %s: %.200s", where, line)
		})
		if err != nil {
			t.Error(err)
		}
		if lines == 0 && len(art.logs) > 0 {
			t.Errorf("%d log files but no log line: the check checked nothing", len(art.logs))
		}
		t.Logf("%d log lines of %d processes searched, %d output/checkpoint files: %d hits", lines, len(art.logs)/2, len(art.files), hits)
		rep.mu.Lock()
		defer rep.mu.Unlock()
		printReport(os.Stdout, s, &rep, lines, len(art.logs)/2, hits)
	})
}

// findSecrets searches every line of the logs, and the whole of the other
// files, for the tokens; hit is called for the first few hits, with the
// token masked. It returns the number of log lines searched and of hits.
func findSecrets(logs, files, tokens []string, hit func(where, line string)) (lines, hits int, err error) {
	report := func(where, line string) {
		hits++
		if hits <= 3 {
			for _, tok := range tokens {
				line = strings.ReplaceAll(line, tok, "<TOKEN>")
			}
			hit(where, line)
		}
	}
	for _, path := range logs {
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			err = errors.Join(err, rerr)
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines++
			for _, tok := range tokens {
				if strings.Contains(sc.Text(), tok) {
					report(filepath.Base(path), sc.Text())
				}
			}
		}
		if serr := sc.Err(); serr != nil {
			err = errors.Join(err, fmt.Errorf("%s: %w", path, serr))
		}
	}
	for _, path := range files {
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			continue // a run that never wrote its output
		}
		for _, tok := range tokens {
			if bytes.Contains(b, []byte(tok)) {
				report(path, "(file content)")
			}
		}
	}
	return lines, hits, err
}

// TestFindSecretsSeesAPlantedToken keeps the secrets check honest: a token
// planted in a log line and in an output file is found, and masked in the
// report. It needs no host and always runs.
func TestFindSecretsSeesAPlantedToken(t *testing.T) {
	dir := t.TempDir()
	tok := "np-test-SECRET-0123456789"
	clean, leaky, out := filepath.Join(dir, "clean.stderr"), filepath.Join(dir, "leaky.stdout"), filepath.Join(dir, "events.ndjson")
	for path, content := range map[string]string{
		clean: "level=info msg=started\nlevel=warn msg=\"request failed, retrying\"\n",
		leaky: "level=info msg=started\nlevel=error msg=\"HTTP 403\" header=\"Authorization: " + tok + "\"\n",
		out:   `{"message":"` + tok + `"}` + "\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var reported []string
	lines, hits, err := findSecrets([]string{clean, leaky}, []string{out}, []string{tok}, func(where, line string) {
		reported = append(reported, where+": "+line)
	})
	if err != nil || lines != 4 || hits != 2 {
		t.Fatalf("lines %d, hits %d, err %v; want 4 lines, 2 hits", lines, hits, err)
	}
	for _, r := range reported {
		if strings.Contains(r, tok) {
			t.Fatalf("the report repeats the token: %s", r)
		}
	}
	if !strings.Contains(reported[0], "leaky.stdout") || !strings.Contains(reported[0], "<TOKEN>") {
		t.Fatalf("report %q should name the file and mask the token", reported[0])
	}
}

// simOrg is one simulated NordPass organization and its ground truth.
type simOrg struct {
	np       *sim.NordPass
	base     string // nordpass.base_url
	from, to time.Time
}

// serveOrgs serves n organizations of count events each, spread over the
// 89 days that end two minutes ago (past the default settle delay), under
// /o0, /o1, … of one loopback server. Every request waits latency first,
// which stretches a backfill over many seconds.
func serveOrgs(t *testing.T, seed int64, n, count int, latency time.Duration, token string) []simOrg {
	t.Helper()
	to := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	from := to.Add(-89 * 24 * time.Hour)
	srv := sim.NewServer()
	orgs := make([]simOrg, n)
	for i := range orgs {
		np := sim.NewNordPass(sim.NordPassConfig{Seed: seed*100 + int64(i), Count: count, From: from, To: to, RateLimit: -1})
		np.AddToken(token, sim.TokenValid)
		prefix := fmt.Sprintf("/o%d", i)
		srv.Mount(prefix+sim.NordPassPrefix, np)
		orgs[i] = simOrg{np: np, base: prefix + sim.NordPassPrefix, from: from, to: to}
	}
	var h http.Handler = srv
	if latency > 0 {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(latency)
			srv.ServeHTTP(w, r)
		})
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	for i := range orgs {
		orgs[i].base = hs.URL + orgs[i].base
	}
	return orgs
}

// truth is every event of the organization.
func (o simOrg) truth() [][]byte {
	return o.np.Truth(o.from.Add(-time.Hour), time.Now().Add(time.Hour))
}

// input is the auditpull configuration reading o into the checkpoint
// directory cp.
func (o simOrg) input(cp string) hostrun.Input {
	return hostrun.Input{
		"source":             "nordpass",
		"nordpass.base_url":  o.base,
		"nordpass.token":     "${" + tokenEnv + "}",
		"start_time":         o.from.Add(-time.Hour).UTC().Format(time.RFC3339),
		"checkpoint.path":    cp,
		"rate_limit.enabled": "false", // the simulator's limit is off too
		"poll_interval":      "2s",
	}
}
