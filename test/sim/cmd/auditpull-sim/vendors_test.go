package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/auditpull/auditpull/internal/testkit"
	"github.com/auditpull/auditpull/internal/testkit/testkeys"
)

// startRun runs the simulator with args and returns its base URL and a stop
// function that waits for it to exit.
func startRun(t *testing.T, args ...string) (string, *testkit.SyncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	var stderr testkit.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, outW, &stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("%v: %s", err, stderr.String())
	}
	go io.Copy(io.Discard, outR)
	base := strings.TrimPrefix(strings.TrimSpace(line), "auditpull-sim listening on ")
	return base, &stderr, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("run did not return after cancel")
		}
	}
}

func send(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesOLOIDQualtricsAndTheMSPAPIWithAKey(t *testing.T) {
	key, keyFile := testkeys.EC(), testkeys.WriteEC(t)
	const oloidSecret, qualtricsToken = "oloid-s3cret-x", "qualtrics-t0ken-y"
	base, logs, stop := startRun(t, "-events", "300", "-rate-limit", "0", "-v", "-live-rate", "20",
		"-oloid-client-secret", oloidSecret, "-qualtrics-token", qualtricsToken,
		"-msp-public-key", keyFile, "-msp-issuer", "msp-1", "-msp-path", "/v2/log")

	// OLOID: log in, then read.
	status, body := send(t, "POST", base+"/oloid/login", `{"UserName":"demo-client","TenantName":"demo","Password":"`+oloidSecret+`"}`, "Content-Type", "application/json")
	var login struct {
		CognitoToken struct{ AccessToken string } `json:"cognitoToken"`
	}
	if err := json.Unmarshal([]byte(body), &login); err != nil || status != 200 || login.CognitoToken.AccessToken == "" {
		t.Fatalf("oloid login: %d %s", status, body)
	}
	if status, body := send(t, "POST", base+"/oloid/filterActivity", `{"limit":5}`, "Content-Type", "application/json", "Authorization", "Bearer "+login.CognitoToken.AccessToken); status != 200 || strings.Count(body, `"activityType"`) != 5 {
		t.Fatalf("oloid query: %d %s", status, body)
	}

	// Qualtrics: the API token and the activity types.
	if status, body := send(t, "GET", base+"/qualtrics/API/v3/logs?activityType=login&pageSize=3", "", "X-API-TOKEN", qualtricsToken); status != 200 || !strings.Contains(body, `"elements":[{`) {
		t.Fatalf("qualtrics: %d %s", status, body)
	}

	// NordPass MSP: a JWT signed with the private key.
	now := time.Now()
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": "msp-1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}).SignedString(key)
	if status, body := send(t, "POST", base+"/nordpass-msp/v2/log", `{"per_page":5}`, "Content-Type", "application/json", "Authorization", "Bearer "+tok); status != 200 || !strings.Contains(body, `"total_pages"`) {
		t.Fatalf("msp: %d %s", status, body)
	}
	stop()
	l := logs.String()
	for _, s := range []string{oloidSecret, qualtricsToken, login.CognitoToken.AccessToken, tok} {
		if strings.Contains(l, s) {
			t.Fatal("a credential appears in the logs")
		}
	}
	if !strings.Contains(l, "POST /nordpass-msp/v2/log 200") || !strings.Contains(l, "nordpass_msp: base_url") {
		t.Fatalf("logs:\n%s", l)
	}
}

func TestRunServesNoMSPAPIWithoutAKey(t *testing.T) {
	base, _, stop := startRun(t, "-events", "10")
	defer stop()
	if status, _ := send(t, "POST", base+"/nordpass-msp/api/v1/msp/activity-log/query", `{}`); status != 404 {
		t.Fatalf("got %d", status)
	}
	if _, index := send(t, "GET", base+"/", ""); !strings.Contains(index, "/oloid") || !strings.Contains(index, "/qualtrics") || strings.Contains(index, "/nordpass-msp") {
		t.Fatalf("index %q", index)
	}
}

func TestRunRejectsBadVendorFlags(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.pem")
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-oloid-client-secret", ""}, {"-qualtrics-token", ""}, {"-msp-path", "v1"},
		{"-msp-public-key", missing}, {"-msp-public-key", notPEM},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
