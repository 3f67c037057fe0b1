package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/identity"
)

type diagEnv struct {
	cfg    hotspot.Config
	opts   diagOptions
	broker net.Listener
}

func newDiagEnv(t *testing.T, forwarder bool, skew time.Duration) *diagEnv {
	t.Helper()
	dir := t.TempDir()
	k, err := identity.FromSeed(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := hotspot.DefaultConfig()
	cfg.KeyFile = filepath.Join(dir, "hotspot.key")
	cfg.DataDir = dir
	cfg.Region = "EU868"
	if err := identity.SaveKey(cfg.KeyFile, k); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	cfg.Broker.URL = "tcp://" + ln.Addr().String()
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"region":"EU868","version":"1.0.0","forwarder_connected":` + map[bool]string{true: "true", false: "false"}[forwarder] + `,"broker_connected":true}`))
	}))
	t.Cleanup(status.Close)
	cfg.Status.Listen = strings.TrimPrefix(status.URL, "http://")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-skew).UTC().Format(http.TimeFormat))
	}))
	t.Cleanup(api.Close)
	return &diagEnv{cfg: cfg, broker: ln, opts: diagOptions{Version: "1.0.0", APIURL: api.URL, Timeout: time.Second}}
}

func (e *diagEnv) run(t *testing.T) (int, string) {
	var out bytes.Buffer
	code := diagnose(e.cfg, e.opts, &out)
	return code, out.String()
}

func TestDiagHealthy(t *testing.T) {
	e := newDiagEnv(t, true, 0)
	code, out := e.run(t)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"[OK  ] key", "(0600)", "[OK  ] forwarder", "[OK  ] broker", "reachable (agent connected: true)", "[OK  ] region    EU868", "[OK  ] version   1.0.0", "[OK  ] disk", "[OK  ] clock"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDiagFailures(t *testing.T) {
	cases := []struct {
		name string
		skew time.Duration
		prep func(e *diagEnv)
		want string
	}{
		{"key readable by others", 0, func(e *diagEnv) { os.Chmod(e.cfg.KeyFile, 0o644) }, "[FAIL] key"},
		{"no key", 0, func(e *diagEnv) { os.Remove(e.cfg.KeyFile) }, "[FAIL] key"},
		{"broker down", 0, func(e *diagEnv) { e.broker.Close() }, "[FAIL] broker"},
		{"agent not running", 0, func(e *diagEnv) { e.opts.statusProbe = "http://127.0.0.1:1/status" }, "agent not running"},
		{"disk nearly full", 0, func(e *diagEnv) { e.opts.MinFree = 1 << 62 }, "[FAIL] disk"},
		{"clock skew", 2 * time.Minute, func(*diagEnv) {}, "[FAIL] clock"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newDiagEnv(t, true, c.skew)
			c.prep(e)
			code, out := e.run(t)
			if code == 0 || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, want non-zero with %q:\n%s", code, c.want, out)
			}
		})
	}
	t.Run("no forwarder", func(t *testing.T) {
		code, out := newDiagEnv(t, false, 0).run(t)
		if code == 0 || !strings.Contains(out, "[FAIL] forwarder") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

func TestBrokerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://h:1": "h:1", "tcp://h": "h:1883", "ssl://h": "h:8883", "ws://[::1]": "[::1]:80",
	} {
		if got, err := brokerAddr(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "h:1", "gopher://h", "tcp://"} {
		if _, err := brokerAddr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
