package verify

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"
)

// TestGeoAgreesWithH3 checks the cached distance rules against the rule as
// written (grid distance, H3's own great-circle distance) on random pairs:
// near pairs around the minimum distance, where the grid distance decides,
// pairs across the far cut-off, and pairs anywhere on the globe.
func TestGeoAgreesWithH3(t *testing.T) {
	c := DefaultConfig()
	g := newGeo(c)
	if g.farM < 500 || g.farM > 5000 {
		t.Fatalf("far cut-off %v m, want a few hundred metres to a few km at res %d", g.farM, c.MinDistanceRes)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var near, skipped int
	for i := range 20000 {
		lat := rng.Float64()*160 - 80
		lng := rng.Float64()*360 - 180
		var lat2, lng2 float64
		switch i % 3 {
		case 0: // within about 2 km
			lat2, lng2 = lat+(rng.Float64()-0.5)*0.04, lng+(rng.Float64()-0.5)*0.04
		case 1: // within about 20 km
			lat2, lng2 = lat+(rng.Float64()-0.5)*0.4, lng+(rng.Float64()-0.5)*0.4
		default:
			lat2, lng2 = rng.Float64()*160-80, rng.Float64()*360-180
		}
		a := h3.LatLngToCell(h3.NewLatLng(lat, lng), 12)
		b := h3.LatLngToCell(h3.NewLatLng(lat2, lng2), 12)
		want := DistanceM(a, b)
		d := g.distanceM(a, b)
		if math.Abs(d-want) > 1e-6*max(1, want) {
			t.Fatalf("distance %v–%v = %v, H3 says %v", a, b, d, want)
		}
		if got, want := g.tooClose(a, b, d), c.tooClose(a, b); got != want {
			t.Fatalf("tooClose %v–%v (%.0f m) = %v, rule says %v", a, b, d, got, want)
		}
		if c.tooClose(a, b) {
			near++
		}
		if d > g.farM {
			skipped++
		}
	}
	if near < 100 || skipped < 10000 {
		t.Errorf("cases too close %d, beyond the cut-off %d: the sample misses a side", near, skipped)
	}
}

func BenchmarkWitnessDistance(b *testing.B) {
	g := newGeo(DefaultConfig())
	x := h3.LatLngToCell(h3.NewLatLng(47, 10), 12)
	y := h3.LatLngToCell(h3.NewLatLng(47.0045, 10), 12)
	b.Run("h3", func(b *testing.B) {
		for b.Loop() {
			d := DistanceM(x, y)
			_ = DefaultConfig().tooClose(x, y) || d > 1e5
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			d := g.distanceM(x, y)
			_ = g.tooClose(x, y, d) || d > 1e5
		}
	})
}
