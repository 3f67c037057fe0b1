package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/ingest"
	"github.com/hexnet/hexnet/poc/verify"
)

func testKey(t *testing.T, s string) *identity.Key {
	h := sha256.Sum256([]byte(s))
	k, err := identity.FromSeed(h[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestServiceEndToEnd runs the oracle: entropy is published retained, the
// subscription handler admits a beacon built on it and a witness, and the
// verdict is published and queryable.
func TestServiceEndToEnd(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewManual(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var published []string
	handlers := make(chan func(string, []byte) error, 1)
	svc, err := New(DefaultConfig(), Deps{
		Store: db.Prefix("poc/"), EntropyKey: testKey(t, "entropy"), Clock: clk, Metrics: prometheus.NewRegistry(),
		Publish: func(topic string, payload []byte, retained bool) error {
			mu.Lock()
			defer mu.Unlock()
			if retained {
				published = append(published, topic)
			}
			return nil
		},
		Subscribe: func(topic string, h func(string, []byte) error) (func(), error) {
			if topic != SubscribeTopic {
				return nil, errors.New("topic " + topic)
			}
			handlers <- h
			return func() {}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan ingest.Result, 4)
	svc.OnResult(func(r ingest.Result) { results <- r })
	b, w := testKey(t, "beaconer"), testKey(t, "witness")
	for i, k := range []*identity.Key{b, w} {
		loc := h3.LatLngToCell(h3.NewLatLng(48.1+0.02*float64(i), 11.5), 12)
		if err := svc.Registry().Put(verify.Hotspot{Key: k.Public(), Location: loc, Region: wire.Region_EU868}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	handle := <-handlers

	var ent *wire.Entropy
	for deadline := time.Now().Add(5 * time.Second); ent == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ent = svc.Oracle().Current()
	}
	if ent == nil {
		t.Fatal("no entropy")
	}
	mu.Lock()
	if len(published) == 0 || published[0] != wire.EntropyTopic {
		t.Errorf("published %v", published)
	}
	mu.Unlock()

	exp, err := verify.BeaconBuilder(ent.GetData(), ent.GetTimestamp(), []byte{1, 2, 3, 4}, wire.Region_EU868, 0)
	if err != nil {
		t.Fatal(err)
	}
	br := &wire.BeaconReport{Entropy: ent.GetData(), EntropyTimestamp: ent.GetTimestamp(), LocalEntropy: []byte{1, 2, 3, 4},
		Data: exp.Payload, Frequency: exp.Frequency, DataRate: exp.DataRate, TxPowerDbm: exp.TxPowerDBm, Region: wire.Region_EU868}
	wr := &wire.WitnessReport{Data: exp.Payload, Rssi: -120, Snr: -5, Frequency: exp.Frequency, DataRate: exp.DataRate, Region: wire.Region_EU868}
	if err := b.Sign(br); err != nil {
		t.Fatal(err)
	}
	if err := w.Sign(wr); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*wire.PocReport{{Report: &wire.PocReport_Beacon{Beacon: br}}, {Report: &wire.PocReport_Witness{Witness: wr}}} {
		pl, err := wire.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := handle(wire.PoCTopic(0), pl); err != nil {
			t.Fatal(err)
		}
	}
	var r ingest.Result
	for got := false; !got; {
		clk.Advance(time.Second)
		select {
		case r = <-results:
			got = true
		case <-time.After(20 * time.Millisecond):
		}
		if clk.Now().Sub(time.Unix(ent.GetTimestamp(), 0)) > time.Minute {
			t.Fatal("no verdict")
		}
	}
	// A fresh network: the beacon fails reciprocity, its witness is
	// otherwise valid and earns history (the HIP-106 bootstrap).
	if r.Reason != poc.ReasonGatewayNoValidWitnesses || len(r.Witnesses) != 1 || !r.Witnesses[0].OtherwiseValid {
		t.Fatalf("result %+v", r.Result)
	}
	mux := http.NewServeMux()
	mux.Handle(ingest.QueryPattern, svc.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/hotspots/" + b.Address().String() + "/poc")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("query: %v %v", err, resp)
	}
	resp.Body.Close()

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Ingest.ReplayWindow = time.Hour
	if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("short replay window: %v", err)
	}
}
