package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

func startNode(t *testing.T, dir string) *Node {
	t.Helper()
	return startNodeLogging(t, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func startNodeLogging(t *testing.T, dir string, log *slog.Logger) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Broker.Listen = "127.0.0.1:0"
	n, err := New(cfg, Deps{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- n.Run(context.Background()) }()
	select {
	case <-n.Ready():
	case err := <-errc:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("node not ready")
	}
	t.Cleanup(func() {
		n.Close()
		if err := <-errc; err != nil {
			t.Errorf("run returned %v", err)
		}
	})
	return n
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthAndMetrics(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	if code, body := get(t, "http://"+n.HTTPAddr()+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %q", code, body)
	}
	code, body := get(t, "http://"+n.HTTPAddr()+"/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics: %d", code)
	}
	if !strings.HasPrefix(n.BrokerURL(), "tcp://127.0.0.1:") || strings.HasSuffix(n.BrokerURL(), ":0") {
		t.Fatalf("broker url %q", n.BrokerURL())
	}
	first := n.Keys().Oracle.Address()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// A restart on the same data dir keeps the network's identity.
	n2 := startNode(t, dir)
	if n2.Keys().Oracle.Address() != first {
		t.Fatalf("oracle key changed across restart")
	}
}

// warnings records the messages of the warnings and errors logged.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// TestCleanStop: a node asked to stop stops its roles, whose clients
// disconnect, before its embedded broker: nothing is logged as lost or
// failed on the way.
func TestCleanStop(t *testing.T) {
	for i := range 3 {
		w := &warnings{}
		n := startNodeLogging(t, t.TempDir(), slog.New(w))
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		msgs := w.msgs
		w.mu.Unlock()
		if len(msgs) > 0 {
			t.Fatalf("stop %d logged %q", i, msgs)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Broker.Listen, c.Broker.External = "", ""
	c.Broker.TLSCert = "x.pem"
	c.Broker.WritesPending = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tls_key") || !strings.Contains(err.Error(), "external") ||
		!strings.Contains(err.Error(), "writes_pending -1") {
		t.Fatalf("validate: %v", err)
	}
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

// An asserted hotspot finds its signed region parameters on its retained config topic.
func TestRegionParamsForAssertedHotspots(t *testing.T) {
	owner, _ := identity.FromSeed(bytes.Repeat([]byte{1}, 32))
	maker, _ := identity.FromSeed(bytes.Repeat([]byte{2}, 32))
	hs, _ := identity.FromSeed(bytes.Repeat([]byte{3}, 32))
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.Broker.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Ledger.Allocations = []string{string(owner.Address()) + "=0:100000000", string(maker.Address()) + "=0:100000000"}
	n, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- n.Run(context.Background()) }()
	t.Cleanup(func() { n.Close(); <-errc })
	<-n.Ready()
	l := n.Ledger()
	mustOp := func(b []byte, err error) {
		t.Helper()
		if err == nil {
			err = l.Submit(b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOp(ledger.SignOp(n.Keys().Admin, &ledgerpb.RegisterMaker{Nonce: 1, Maker: maker.Public().Bytes(), Name: "m"}))
	mustOp(ledger.OnboardOp(hs.Public(), owner, maker, 1))
	cell := h3.LatLngToCell(h3.LatLng{Lat: 52.09, Lng: 5.12}, 12)
	mustOp(ledger.SignOp(owner, &ledgerpb.AssertLocation{Nonce: 1, Hotspot: hs.Public().Bytes(), H3: uint64(cell), Gain: 45, Elevation: 10}))

	c, err := mqttc.Dial(context.Background(), mqttc.Config{URL: n.BrokerURL(), Key: hs, CleanSession: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan []byte, 4)
	if err := c.Subscribe(wire.ConfigTopic(string(hs.Address())), 1, func(_ string, p []byte) { got <- p }); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		var p wire.RegionParams
		if err := wire.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if err := identity.Verify(&p, n.Keys().Config.Public()); err != nil {
			t.Fatalf("not signed by the config key: %v", err)
		}
		if p.Region != wire.Region_EU868 || p.AntennaGainDbiX10 != 45 || !bytes.Equal(p.Hotspot, hs.Public().Bytes()) || len(p.Channels) == 0 {
			t.Fatalf("region params %v", &p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no region parameters")
	}
}

// With a releases directory the node serves the release index under /api/v1/releases/.
func TestReleasesMounted(t *testing.T) {
	rel, _ := identity.Generate()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.Broker.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Releases.Dir = t.TempDir()
	cfg.Releases.Key = string(rel.Address())
	n, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- n.Run(context.Background()) }()
	t.Cleanup(func() { n.Close(); <-errc })
	<-n.Ready()
	code, body := get(t, "http://"+n.HTTPAddr()+"/api/v1/releases/stable")
	if code == http.StatusNotFound && strings.Contains(body, "<!doctype html>") {
		t.Fatalf("releases not mounted: the explorer answered")
	}
	if code != http.StatusOK && code != http.StatusNotFound {
		t.Fatalf("releases index: %d %s", code, body)
	}
	bad := DefaultConfig()
	bad.Releases.Channels = []string{"a/b"}
	if err := bad.Validate(); err == nil {
		t.Fatal("a bad release channel was accepted")
	}
}
