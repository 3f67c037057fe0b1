package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/api"
	"github.com/uber/h3-go/v4"
)

// BenchmarkHexesGeoJSON serves GET /api/v1/hexes for a bbox holding 10,000
// res-8 hexes (one hotspot in each), reporting server time per response and
// the response size.
func BenchmarkHexesGeoJSON(b *testing.B) {
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	agg, err := maps.New(maps.Config{}, maps.Deps{Store: db.Prefix("maps/")})
	if err != nil {
		b.Fatal(err)
	}
	center := h3.LatLngToCell(h3.NewLatLng(52.37, 4.9), 8)
	cells := h3.GridDisk(center, 58)[:10000]
	minLat, minLng, maxLat, maxLng := 90.0, 180.0, -90.0, -180.0
	for i, c := range cells {
		ll := h3.CellToLatLng(c)
		minLat, maxLat = min(minLat, ll.Lat), max(maxLat, ll.Lat)
		minLng, maxLng = min(minLng, ll.Lng), max(maxLng, ll.Lng)
		if err := agg.Hotspot(maps.HotspotInfo{Address: fmt.Sprintf("hs%05d", i), Name: fmt.Sprintf("hotspot-%d", i),
			Cell: uint64(c.Children(12)[0])}); err != nil {
			b.Fatal(err)
		}
		if err := agg.Scale(fmt.Sprintf("hs%05d", i), 0.5); err != nil {
			b.Fatal(err)
		}
	}
	s, err := api.New(api.Config{}, api.Deps{Agg: agg})
	if err != nil {
		b.Fatal(err)
	}
	url := fmt.Sprintf("/api/v1/hexes?bbox=%f,%f,%f,%f&res=8", minLng-0.01, minLat-0.01, maxLng+0.01, maxLat+0.01)
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Accept-Encoding", enc)
			var size int
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/response")
			b.ReportMetric(float64(len(cells)), "hexes/response")
		})
	}
}
