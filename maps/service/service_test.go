package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hexnet/hexnet/internal/config"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/service"
	"github.com/prometheus/client_golang/prometheus"
)

func TestServiceEndToEnd(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := service.New(service.DefaultConfig(), service.Deps{Store: db.Prefix("maps/")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/api/v1/live?types=beacon", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for s.Hub.Stats().Clients != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Agg.Hotspot(maps.HotspotInfo{Address: "A", Name: "a-b-c", Lat: 52, Lng: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Agg.Beacon(maps.BeaconEvent{Beaconer: "A", At: time.Now(), Valid: true}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ev struct{ Type string }
	if err := c.ReadJSON(&ev); err != nil || ev.Type != "beacon" {
		t.Fatalf("live: %+v %v", ev, err)
	}
	resp, err := http.Get(srv.URL + "/api/v1/hotspots/A")
	if err != nil {
		t.Fatal(err)
	}
	var d maps.HotspotDetail
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d.Name != "a-b-c" || d.Beacons != 1 {
		t.Fatalf("detail %+v", d)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			got[mf.GetName()] += v
		}
	}
	// hotspots: all 1 + online 0 + active 1.
	if got["hexnet_maps_live_clients"] != 1 || got["hexnet_maps_hotspots"] != 2 || got["hexnet_maps_live_published_total"] < 1 {
		t.Fatalf("metrics: %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	s.Close()
	s.Close()
}

func TestConfigPrintsAndValidates(t *testing.T) {
	var b strings.Builder
	def := service.DefaultConfig()
	if err := config.Print(&b, &def, "HEXNET_MAPS_"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"max_accuracy_m = 100", "client_buffer = 256", "max_hotspot_km = 500", "tile_url"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("printed config lacks %q:\n%s", want, b.String())
		}
	}
	bad := service.DefaultConfig()
	bad.API.Ingest.MinAltM, bad.API.Ingest.MaxAltM = 10, 5
	if bad.Validate() == nil {
		t.Fatal("inverted altitude range accepted")
	}
	if _, err := service.New(service.DefaultConfig(), service.Deps{}); err == nil {
		t.Fatal("no store accepted")
	}
}
