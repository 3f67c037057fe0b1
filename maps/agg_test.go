package maps_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/live"
	"github.com/hexnet/hexnet/maps/mapstest"
	"github.com/uber/h3-go/v4"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

type recorder struct{ evs []live.Event }

func (r *recorder) Publish(ev live.Event) bool { r.evs = append(r.evs, ev); return true }

var world = maps.BBox{-180, -90, 180, 90}

// snapshot is everything the API can read, as JSON, to compare two aggregators.
func snapshot(t *testing.T, a *maps.Aggregator, n *mapstest.Network) string {
	t.Helper()
	out := map[string]any{}
	st := a.Stats()
	st.At = time.Time{}
	out["stats"] = st
	for r := maps.MinRes; r <= maps.MaxRes; r++ {
		hx, err := a.Hexes(r, world, 1e6)
		if err != nil {
			t.Fatal(err)
		}
		out["hexes"+string(rune('0'+r))] = hx
	}
	cov, err := a.Coverage(9, world, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	out["coverage"] = cov
	for _, h := range n.Hotspots {
		d, err := a.Detail(h.Address, 100)
		if err != nil {
			t.Fatal(err)
		}
		e, err := a.Edges(h.Address)
		if err != nil {
			t.Fatal(err)
		}
		out["h"+h.Address] = []any{d, e}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRebuildFromStore(t *testing.T) {
	n, err := mapstest.Generate(mapstest.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clk := &clock{t: n.End}
	db := openDB(t, dir)
	rec := &recorder{}
	a, err := maps.New(maps.Config{}, maps.Deps{Store: db.Prefix("maps/"), Now: clk.now, Live: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Feed(a); err != nil {
		t.Fatal(err)
	}
	live1 := snapshot(t, a, n)

	// Rebuild in place gives the same answers as incremental updates.
	if err := a.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, a, n); got != live1 {
		t.Fatalf("Rebuild differs from incremental state")
	}
	// And so does a fresh aggregator over the reopened store.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := openDB(t, dir)
	defer db2.Close()
	b, err := maps.New(maps.Config{}, maps.Deps{Store: db2.Prefix("maps/"), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, b, n); got != live1 {
		t.Fatalf("reopened store differs from incremental state")
	}

	st := b.Stats()
	if st.Hotspots != 30 || st.Located != 30 || st.Counters.Beacons != uint64(len(n.Beacons)) {
		t.Fatalf("stats: %+v", st)
	}
	if st.WitnessEdges == 0 || st.CoverageCells == 0 || st.Counters.ValidWitnesses == 0 || len(st.Counters.InvalidByReason) == 0 {
		t.Fatalf("stats lack edges/coverage/witnesses: %+v", st)
	}
	// Live events: one state per hotspot, one beacon per beacon and one witness per witness.
	counts := map[string]int{}
	for _, ev := range rec.evs {
		counts[ev.Type]++
	}
	witnesses := 0
	for _, bcn := range n.Beacons {
		witnesses += len(bcn.Witnesses)
	}
	if counts[live.TypeBeacon] != len(n.Beacons) || counts[live.TypeWitness] != witnesses ||
		counts[live.TypeEpoch] != len(n.Epochs) || counts[live.TypeMapper] != len(n.Mapper) || counts[live.TypePacket] != len(n.Packets) {
		t.Fatalf("live events %v", counts)
	}
}

func TestHexStatsFollowHotspots(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	db := openDB(t, t.TempDir())
	defer db.Close()
	a, err := maps.New(maps.Config{ActiveWindow: time.Hour}, maps.Deps{Store: db.Prefix("maps/"), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(addr string, lat, lng float64) {
		t.Helper()
		if err := a.Hotspot(maps.HotspotInfo{Address: addr, Name: addr + "-name", Lat: lat, Lng: lng}); err != nil {
			t.Fatal(err)
		}
	}
	mk("A", 52.0, 5.0)
	mk("B", 52.0005, 5.0005) // same res-8 hex as A
	mk("C", 52.2, 5.3)
	cellA := h3.LatLngToCell(h3.NewLatLng(52.0, 5.0), 8)
	hex := func(c h3.Cell) maps.HexView {
		t.Helper()
		d, err := a.Hex(c)
		if err != nil {
			t.Fatal(err)
		}
		return d.HexView
	}
	if hv := hex(cellA); hv.Hotspots != 2 || hv.Active != 0 || hv.BestRSSI != nil || hv.Scale != nil {
		t.Fatalf("before events: %+v", hv)
	}
	for _, s := range []struct {
		addr  string
		scale float64
	}{{"A", 0.5}, {"B", 1}} {
		if err := a.Scale(s.addr, s.scale); err != nil {
			t.Fatal(err)
		}
	}
	err = a.Beacon(maps.BeaconEvent{Beaconer: "C", At: clk.t, Valid: true, Witnesses: []maps.WitnessEvent{
		{Witness: "A", RSSI: -100, SNR: 3, DistanceM: 30000, Valid: true},
		{Witness: "B", RSSI: -90, SNR: 5, DistanceM: 30000, Valid: false, Reason: "bad_rssi"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hv := hex(cellA)
	if hv.Hotspots != 2 || hv.Active != 2 || hv.ValidWitnesses != 1 || hv.BestRSSI == nil || *hv.BestRSSI != -100 ||
		hv.Scale == nil || *hv.Scale != 0.75 {
		t.Fatalf("after beacon: %+v", hv)
	}
	// Activity expires after the window.
	clk.t = clk.t.Add(2 * time.Hour)
	a.Sweep()
	if hv := hex(cellA); hv.Active != 0 {
		t.Fatalf("after sweep: active %d", hv.Active)
	}
	// Moving A out of the hex takes its witness and RSSI with it.
	mk("A", 51.0, 4.0)
	hv = hex(cellA)
	if hv.Hotspots != 1 || hv.ValidWitnesses != 0 || hv.BestRSSI != nil || *hv.Scale != 1 {
		t.Fatalf("after move: %+v", hv)
	}
	// The edge keeps the last verdict.
	edges, err := a.Edges("C")
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 2 || edges[0].Witness != "A" || !edges[0].Valid || edges[1].Reason != "bad_rssi" || edges[1].Direction != "witnessed_by" {
		t.Fatalf("edges: %+v", edges)
	}
	if _, err := a.Detail("nope", 10); !errors.Is(err, maps.ErrNotFound) {
		t.Fatalf("unknown hotspot: %v", err)
	}
	if _, err := a.Hexes(3, world, 10); !errors.Is(err, maps.ErrInvalid) {
		t.Fatalf("res 3: %v", err)
	}
	if _, err := a.Hexes(10, world, 1); !errors.Is(err, maps.ErrTooMany) {
		t.Fatalf("too many: %v", err)
	}
}

func TestIngestRejectsBadEvents(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	a, err := maps.New(maps.Config{}, maps.Deps{Store: db.Prefix("maps/")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bad := []struct {
		name string
		err  error
	}{
		{"empty address", a.Hotspot(maps.HotspotInfo{})},
		{"bad cell", a.Hotspot(maps.HotspotInfo{Address: "x", Cell: 12345})},
		{"bad lat", a.Hotspot(maps.HotspotInfo{Address: "x", Lat: 91, Lng: 1})},
		{"beacon no time", a.Beacon(maps.BeaconEvent{Beaconer: "x"})},
		{"witness nan", a.Beacon(maps.BeaconEvent{Beaconer: "x", At: now, Witnesses: []maps.WitnessEvent{{Witness: "y", RSSI: nan()}}})},
		{"scale > 1", a.Scale("x", 1.5)},
		{"packet no hotspot", a.Packet(maps.PacketEvent{At: now})},
		{"mapper null island", a.Mapper(maps.MapperPoint{At: now, Hotspots: []maps.MapperHeard{{Address: "x"}}})},
		{"trust not json", a.SetTrust("x", json.RawMessage("{"))},
	}
	for _, b := range bad {
		if !errors.Is(b.err, maps.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", b.name, b.err)
		}
	}
	a.Close()
	a.Close()
	if err := a.Hotspot(maps.HotspotInfo{Address: "x"}); !errors.Is(err, maps.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func nan() float64 { var z float64; return z / z }

func TestCovered(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	a, err := maps.New(maps.Config{}, maps.Deps{Store: db.Prefix("maps/")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Hotspot(maps.HotspotInfo{Address: "H", Lat: 52.0, Lng: 5.0}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := a.Mapper(maps.MapperPoint{Lat: 52.01, Lng: 5.0, At: at, Hotspots: []maps.MapperHeard{{Address: "H", RSSI: -100, SNR: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Mapper(maps.MapperPoint{Lat: 52.01, Lng: 5.0, At: at.Add(time.Minute), Hotspots: []maps.MapperHeard{{Address: "H", RSSI: -95, SNR: 4}}}); err != nil {
		t.Fatal(err)
	}
	ans, err := a.Covered(52.01, 5.0, 3, -120)
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Covered || ans.Method != "measured" || *ans.EstimatedRSSI != -95 || ans.Nearest[0].Samples != 2 || ans.Nearest[0].BestSNR != 4 {
		t.Fatalf("measured: %+v", ans)
	}
	// Farther from the hotspot than the mapped hex: extrapolated, weaker.
	ans, err = a.Covered(52.015, 5.0, 3, -120)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Method != "extrapolated" || ans.EstimatedRSSI == nil || *ans.EstimatedRSSI >= -95 || len(ans.Nearest) != 1 {
		t.Fatalf("extrapolated: %+v", ans)
	}
	ans, err = a.Covered(40, 5, 3, -120)
	if err != nil || ans.Covered || ans.Method != "none" || ans.EstimatedRSSI != nil {
		t.Fatalf("far away: %+v %v", ans, err)
	}
}
