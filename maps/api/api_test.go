package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/api"
	"github.com/hexnet/hexnet/maps/mapstest"
	"github.com/uber/h3-go/v4"
)

type fixture struct {
	srv *httptest.Server
	agg *maps.Aggregator
	net *mapstest.Network
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	n, err := mapstest.Generate(mapstest.Config{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := n.End
	clk := func() time.Time { return now }
	agg, err := maps.New(maps.Config{}, maps.Deps{Store: db.Prefix("maps/"), Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Feed(agg); err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Config{}, api.Deps{Agg: agg, Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, agg: agg, net: n, now: now}
}

func (f *fixture) get(t *testing.T, path string, wantStatus int, into any) http.Header {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, wantStatus, body)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v: %.200s", path, err, body)
		}
	}
	return resp.Header
}

type apiError struct {
	Error struct{ Code, Message string }
}

type featureCollection struct {
	Type     string
	Features []struct {
		Type     string
		Geometry struct {
			Type        string
			Coordinates json.RawMessage
		}
		Properties map[string]any
	}
}

func (f *fixture) bbox() string {
	return "4.5,52.1,5.3,52.6"
}

func TestEndpoints(t *testing.T) {
	f := newFixture(t)
	h0 := f.net.Hotspots[0]

	var stats maps.NetworkStats
	f.get(t, "/api/v1/stats", 200, &stats)
	if stats.Hotspots != 30 || stats.Counters.Beacons == 0 || stats.WitnessEdges == 0 {
		t.Fatalf("stats %+v", stats)
	}

	var list struct {
		Hotspots []maps.HotspotSummary
		Total    int
	}
	f.get(t, "/api/v1/hotspots?limit=10&offset=25", 200, &list)
	if list.Total != 30 || len(list.Hotspots) != 5 {
		t.Fatalf("page: total %d, %d items", list.Total, len(list.Hotspots))
	}
	f.get(t, "/api/v1/hotspots?owner=owner-0", 200, &list)
	if list.Total != 6 {
		t.Fatalf("owner filter: %d", list.Total)
	}

	var detail maps.HotspotDetail
	f.get(t, "/api/v1/hotspots/"+h0.Address, 200, &detail)
	if detail.Name != h0.Name || detail.Owner != h0.Owner || detail.H3 == "" || detail.Lat == 0 ||
		detail.GainDBiX10 != h0.GainDBiX10 || len(detail.RecentBeacons) == 0 || len(detail.RecentWitnesses) == 0 ||
		len(detail.Rewards) != 3 || detail.Scale == nil || string(detail.Trust) != "null" || detail.Status == "" {
		t.Fatalf("detail %+v", detail)
	}
	if c := h3.Cell(h3.IndexFromString(detail.H3)); c.Resolution() != 12 {
		t.Fatalf("location cell %s res %d", detail.H3, c.Resolution())
	}
	for _, w := range detail.RecentWitnesses {
		if w.Reason == "" || (w.Valid != (w.Reason == "reason_none")) {
			t.Fatalf("witness verdict/reason mismatch: %+v", w)
		}
	}
	var e apiError
	f.get(t, "/api/v1/hotspots/nope", 404, &e)
	if e.Error.Code != "not_found" {
		t.Fatalf("unknown hotspot: %+v", e)
	}

	var edges featureCollection
	f.get(t, "/api/v1/hotspots/"+h0.Address+"/witnesses.geojson", 200, &edges)
	if len(edges.Features) == 0 || edges.Features[0].Geometry.Type != "LineString" || edges.Features[0].Properties["reason"] == nil {
		t.Fatalf("edges %+v", edges)
	}

	var search struct{ Results []maps.SearchResult }
	words := strings.Split(h0.Name, "-")
	f.get(t, "/api/v1/search?q="+url.QueryEscape(strings.ToUpper(words[0]+" "+words[1])), 200, &search)
	if len(search.Results) == 0 || search.Results[0].Hotspot == nil || !strings.Contains(search.Results[0].Hotspot.Name, words[1]) {
		t.Fatalf("search by name: %+v", search)
	}
	f.get(t, "/api/v1/search?q="+h0.Address[:10], 200, &search)
	if len(search.Results) == 0 || search.Results[0].Hotspot.Address != h0.Address {
		t.Fatalf("search by address prefix: %+v", search)
	}
	f.get(t, "/api/v1/search?q="+detail.H3, 200, &search)
	if len(search.Results) == 0 || search.Results[0].Type != "hex" {
		t.Fatalf("search by hex: %+v", search)
	}
	f.get(t, "/api/v1/search?q=", 400, &e)

	var hexes featureCollection
	hdr := f.get(t, "/api/v1/hexes?bbox="+f.bbox()+"&res=8", 200, &hexes)
	if !strings.HasPrefix(hdr.Get("Content-Type"), "application/geo+json") || len(hexes.Features) == 0 {
		t.Fatalf("hexes: %s %d", hdr.Get("Content-Type"), len(hexes.Features))
	}
	total := 0.0
	for _, ft := range hexes.Features {
		if ft.Geometry.Type != "Polygon" {
			t.Fatalf("hex geometry %s", ft.Geometry.Type)
		}
		total += ft.Properties["hotspots"].(float64)
	}
	if total != 30 {
		t.Fatalf("hexes hold %v hotspots, want 30", total)
	}
	// Large GeoJSON is gzipped for clients that accept it.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/hexes?bbox="+f.bbox()+"&res=10", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	zresp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(zresp.Body)
	if zresp.Header.Get("Content-Encoding") != "gzip" || err != nil {
		t.Fatalf("gzip: %q %v", zresp.Header.Get("Content-Encoding"), err)
	}
	var zfc featureCollection
	if err := json.NewDecoder(zr).Decode(&zfc); err != nil || len(zfc.Features) != 30 {
		t.Fatalf("gzipped res-10 hexes: %v, %d features", err, len(zfc.Features))
	}
	zresp.Body.Close()
	cell := hexes.Features[0].Properties["h3"].(string)
	var hd maps.HexDetail
	f.get(t, "/api/v1/hexes/"+cell, 200, &hd)
	if hd.Res != 8 || hd.Hotspots == 0 || len(hd.HotspotList) != hd.Hotspots {
		t.Fatalf("hex detail %+v", hd)
	}
	// A hotspot's location cell (res 12) answers with the hotspot in it.
	var loc maps.HexDetail
	f.get(t, "/api/v1/hexes/"+detail.H3, 200, &loc)
	if loc.Res != 12 || loc.Hotspots < 1 || loc.HotspotList[0].H3 != detail.H3 {
		t.Fatalf("location cell: %+v", loc)
	}
	f.get(t, "/api/v1/hexes/"+h3.IndexToString(uint64(h3.LatLngToCell(h3.NewLatLng(-40, -100), 12))), 404, &e)
	f.get(t, "/api/v1/hexes/zzz", 400, &e)
	f.get(t, "/api/v1/hexes?bbox=-180,-90,180,90&res=10", 400, &e)
	if e.Error.Code != "too_large" || !strings.Contains(e.Error.Message, "zoom in") {
		t.Fatalf("too large: %+v", e)
	}
	f.get(t, "/api/v1/hexes?bbox=1,2,3&res=8", 400, &e)
	f.get(t, "/api/v1/hexes?bbox="+f.bbox()+"&res=11", 400, &e)
	f.get(t, "/api/v1/hexes?res=8", 400, &e)
	if e.Error.Code != "bad_request" {
		t.Fatalf("missing bbox: %+v", e)
	}

	var cov featureCollection
	f.get(t, "/api/v1/coverage?bbox="+f.bbox()+"&res=9", 200, &cov)
	if len(cov.Features) == 0 || cov.Features[0].Properties["samples"].(float64) < 1 {
		t.Fatalf("coverage %+v", cov)
	}
	var cov7 featureCollection
	f.get(t, "/api/v1/coverage?bbox="+f.bbox()+"&res=7", 200, &cov7)
	if len(cov7.Features) == 0 || len(cov7.Features) >= len(cov.Features) {
		t.Fatalf("rollup to res 7: %d vs %d", len(cov7.Features), len(cov.Features))
	}

	mp := f.net.Mapper[0]
	var ans maps.CoveredAnswer
	f.get(t, fmt.Sprintf("/api/v1/covered?lat=%v&lng=%v", mp.Lat, mp.Lng), 200, &ans)
	if !ans.Covered || ans.Method != "measured" || len(ans.Nearest) == 0 {
		t.Fatalf("covered %+v", ans)
	}
	f.get(t, "/api/v1/covered?lat=95&lng=1", 400, &e)

	var pts featureCollection
	f.get(t, "/api/v1/hotspots.geojson?bbox="+f.bbox(), 200, &pts)
	if len(pts.Features) != 30 || pts.Features[0].Geometry.Type != "Point" {
		t.Fatalf("hotspot points %d", len(pts.Features))
	}

	f.get(t, "/api/v1/nothing", 404, &e)
	if e.Error.Code != "not_found" {
		t.Fatalf("unknown path %+v", e)
	}
	resp, err := http.Post(f.srv.URL+"/api/v1/stats", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 405 || e.Error.Code != "method_not_allowed" {
		t.Fatalf("POST stats: %d %+v", resp.StatusCode, e)
	}
	// The PoC component serves this path; maps must not claim it.
	f.get(t, "/api/v1/hotspots/"+h0.Address+"/poc", 404, &e)

	// The web map is served at /.
	resp, err = http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<html")) && !bytes.Contains(body, []byte("<!doctype")) {
		t.Fatalf("web root: %d %.100s", resp.StatusCode, body)
	}
}

func TestRewardsCSV(t *testing.T) {
	f := newFixture(t)
	h := f.net.Hotspots[3]
	read := func(q string) [][]string {
		t.Helper()
		resp, err := http.Get(f.srv.URL + "/api/v1/hotspots/" + h.Address + "/rewards.csv" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	all := read("")
	if len(all) != 4 || all[0][0] != "epoch" || all[1][0] != "1" {
		t.Fatalf("all rows: %v", all)
	}
	r1 := f.net.Rewards[1][h.Address]
	if all[1][4] != fmt.Sprint(r1.Beacon) || all[1][7] != fmt.Sprint(r1.Total()) || all[1][3] != h.Address {
		t.Fatalf("row 1 %v, want %+v", all[1], r1)
	}
	e2 := f.net.Epochs[1]
	// [end of epoch 2, ∞) holds epochs 2 and 3.
	if got := read("?from=" + e2.End.Format(time.RFC3339)); len(got) != 3 || got[1][0] != "2" {
		t.Fatalf("from: %v", got)
	}
	if got := read("?to=" + e2.End.Format(time.RFC3339)); len(got) != 2 || got[1][0] != "1" {
		t.Fatalf("to: %v", got)
	}
	var e apiError
	f.get(t, "/api/v1/hotspots/"+h.Address+"/rewards.csv?from=yesterday", 400, &e)
	f.get(t, "/api/v1/hotspots/"+h.Address+"/rewards.csv?from=2026-02-01&to=2026-01-01", 400, &e)
	f.get(t, "/api/v1/hotspots/unknown/rewards.csv", 404, &e)
}

func fp(v float64) *float64 { return &v }

func TestIngestGates(t *testing.T) {
	f := newFixture(t)
	h := f.net.Hotspots[0]
	h2 := f.net.Hotspots[1]
	lat, lng := h.Lat+0.01, h.Lng
	good := func() api.Uplink {
		tm := f.now.Add(-time.Minute)
		return api.Uplink{DevEUI: "0102030405060708", Lat: fp(lat), Lng: fp(lng), Alt: fp(12), Accuracy: fp(5), Time: &tm,
			Hotspots: []api.UplinkHeard{{Address: h.Address, RSSI: fp(-100), SNR: fp(3)}}}
	}
	if err := f.agg.Hotspot(maps.HotspotInfo{Address: "unlocated", Name: "no-where-here"}); err != nil {
		t.Fatal(err)
	}
	if err := f.agg.Hotspot(maps.HotspotInfo{Address: "faraway", Name: "far-far-away", Lat: -33.9, Lng: 151.2}); err != nil {
		t.Fatal(err)
	}
	future := f.now.Add(time.Hour)
	old := f.now.Add(-30 * 24 * time.Hour)
	cases := []struct {
		name      string
		mod       func(u *api.Uplink)
		reason    string // point reason, "" if accepted
		hsReasons []string
	}{
		{"good", func(u *api.Uplink) {}, "", []string{""}},
		{"no lat", func(u *api.Uplink) { u.Lat = nil }, api.RejectMissingPosition, nil},
		{"lat 91", func(u *api.Uplink) { u.Lat = fp(91) }, api.RejectCoordinates, nil},
		{"lng -181", func(u *api.Uplink) { u.Lng = fp(-181) }, api.RejectCoordinates, nil},
		{"null island", func(u *api.Uplink) { u.Lat, u.Lng = fp(0), fp(0.001) }, api.RejectNullIsland, nil},
		{"accuracy 150 m", func(u *api.Uplink) { u.Accuracy = fp(150) }, api.RejectAccuracy, nil},
		{"accuracy 100 m ok", func(u *api.Uplink) { u.Accuracy = fp(100) }, "", []string{""}},
		{"accuracy negative", func(u *api.Uplink) { u.Accuracy = fp(-1) }, api.RejectAccuracy, nil},
		{"accuracy absent ok", func(u *api.Uplink) { u.Accuracy = nil }, "", []string{""}},
		{"altitude 20 km", func(u *api.Uplink) { u.Alt = fp(20000) }, api.RejectAltitude, nil},
		{"altitude −600 m", func(u *api.Uplink) { u.Alt = fp(-600) }, api.RejectAltitude, nil},
		{"time in future", func(u *api.Uplink) { u.Time = &future }, api.RejectTime, nil},
		{"time too old", func(u *api.Uplink) { u.Time = &old }, api.RejectTime, nil},
		{"no hotspots", func(u *api.Uplink) { u.Hotspots = nil }, api.RejectNoHotspots, nil},
		{"rssi −142", func(u *api.Uplink) { u.Hotspots[0].RSSI = fp(-142) }, api.RejectNoValidHotspot, []string{api.RejectRSSI}},
		{"rssi −141 ok", func(u *api.Uplink) { u.Hotspots[0].RSSI = fp(-141) }, "", []string{""}},
		{"rssi +1", func(u *api.Uplink) { u.Hotspots[0].RSSI = fp(1) }, api.RejectNoValidHotspot, []string{api.RejectRSSI}},
		{"rssi missing", func(u *api.Uplink) { u.Hotspots[0].RSSI = nil }, api.RejectNoValidHotspot, []string{api.RejectRSSI}},
		{"snr 41", func(u *api.Uplink) { u.Hotspots[0].SNR = fp(41) }, api.RejectNoValidHotspot, []string{api.RejectSNR}},
		{"snr −40 ok", func(u *api.Uplink) { u.Hotspots[0].SNR = fp(-40) }, "", []string{""}},
		{"unknown hotspot", func(u *api.Uplink) { u.Hotspots[0].Address = "nobody" }, api.RejectNoValidHotspot, []string{api.RejectUnknownHotspot}},
		{"unlocated hotspot", func(u *api.Uplink) { u.Hotspots[0].Address = "unlocated" }, api.RejectNoValidHotspot, []string{api.RejectHotspotNoLoc}},
		{"hotspot 16,000 km away", func(u *api.Uplink) { u.Hotspots[0].Address = "faraway" }, api.RejectNoValidHotspot, []string{api.RejectTooFar}},
		{"one good one bad hotspot", func(u *api.Uplink) {
			u.Hotspots = append(u.Hotspots, api.UplinkHeard{Address: "faraway", RSSI: fp(-90), SNR: fp(1)},
				api.UplinkHeard{Address: h2.Address, RSSI: fp(-120), SNR: fp(-5)})
		}, "", []string{"", api.RejectTooFar, ""}},
		{"duplicate hotspot", func(u *api.Uplink) { u.Hotspots = append(u.Hotspots, u.Hotspots[0]) }, "", []string{"", api.RejectDuplicate}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := good()
			c.mod(&u)
			body, _ := json.Marshal(u)
			before := f.agg.Stats().Counters
			resp, err := http.Post(f.srv.URL+"/api/v1/ingest/uplink", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var got api.IngestResponse
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			after := f.agg.Stats().Counters
			if len(got.Results) != 1 {
				t.Fatalf("results %+v", got)
			}
			r := got.Results[0]
			if c.reason == "" {
				if resp.StatusCode != 200 || r.Status != "accepted" || got.Accepted != 1 || r.H3 == "" {
					t.Fatalf("want accepted, got %d %+v", resp.StatusCode, got)
				}
				if after.MapperPoints != before.MapperPoints+1 {
					t.Fatalf("accepted point not stored")
				}
			} else {
				if resp.StatusCode != 422 || r.Status != "rejected" || r.Reason != c.reason || got.Error == nil || got.Error.Code != "rejected" {
					t.Fatalf("want 422 %s, got %d %+v", c.reason, resp.StatusCode, got)
				}
				if after.MapperPoints != before.MapperPoints || after.MapperRejected[c.reason] != before.MapperRejected[c.reason]+1 {
					t.Fatalf("rejection not counted: %v → %v", before.MapperRejected, after.MapperRejected)
				}
			}
			if c.hsReasons != nil {
				if len(r.Hotspots) != len(c.hsReasons) {
					t.Fatalf("hotspot verdicts %+v", r.Hotspots)
				}
				for i, want := range c.hsReasons {
					if r.Hotspots[i].Reason != want || (want == "") != (r.Hotspots[i].Status == "accepted") {
						t.Fatalf("hotspot %d: %+v, want reason %q", i, r.Hotspots[i], want)
					}
				}
			}
		})
	}

	// A batch: the good point is stored, the bad one explained, 422 overall.
	bad := good()
	bad.Lat = nil
	body, _ := json.Marshal([]api.Uplink{good(), bad})
	resp, err := http.Post(f.srv.URL+"/api/v1/ingest/uplink", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var got api.IngestResponse
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 422 || got.Accepted != 1 || got.Rejected != 1 || got.Results[1].Index != 1 || got.Results[1].Reason != api.RejectMissingPosition {
		t.Fatalf("batch: %d %+v", resp.StatusCode, got)
	}
	for _, b := range []string{"", "{", "[]", `{"lat":"north"}`, strings.Repeat("[", 100)} {
		resp, err := http.Post(f.srv.URL+"/api/v1/ingest/uplink", "application/json", strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || e.Error.Code != "bad_request" {
			t.Fatalf("body %q: %d %+v", b, resp.StatusCode, e)
		}
	}
	big := bytes.Repeat([]byte(" "), 2<<20)
	resp, err = http.Post(f.srv.URL+"/api/v1/ingest/uplink", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("2 MiB body: %d", resp.StatusCode)
	}
}

func FuzzParseUplinks(f *testing.F) {
	f.Add([]byte(`{"dev_eui":"01","lat":52.1,"lng":4.9,"alt":3,"accuracy":4,"time":"2026-01-01T00:00:00Z","hotspots":[{"address":"a","rssi":-90,"snr":2}]}`))
	f.Add([]byte(`[{"lat":1,"lng":2,"hotspots":[]},{"lat":null}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		us, err := api.ParseUplinks(body, 100)
		if err != nil {
			return
		}
		loc := fakeLoc{}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, u := range us {
			p, res := api.CheckUplink(api.IngestConfig{}, u, now, loc)
			if res.Status == "accepted" && (len(p.Hotspots) == 0 || p.Lat < -90 || p.Lat > 90) {
				t.Fatalf("accepted a bad point: %+v", p)
			}
		}
	})
}

type fakeLoc struct{}

func (fakeLoc) Location(addr string) (float64, float64, bool) { return 52, 4.9, addr != "" }
func (fakeLoc) Known(addr string) bool                        { return addr != "" }
