package node

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startNode(t *testing.T, dir string) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Broker.Listen = "127.0.0.1:0"
	n, err := New(cfg, Deps{})
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

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Broker.Listen, c.Broker.External = "", ""
	c.Broker.TLSCert = "x.pem"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tls_key") || !strings.Contains(err.Error(), "external") {
		t.Fatalf("validate: %v", err)
	}
}
