package verify

import (
	"math"

	"github.com/uber/h3-go/v4"
)

// SpeedOfLight is c in m/s as in Helium's verifier.
const SpeedOfLight = 2.998e8

// FSPL is the free-space path loss in dB over d metres at f hertz:
// 20·log10(4π·d·f/c).
func FSPL(d, f float64) float64 {
	return 20 * math.Log10(4*math.Pi*d*f/SpeedOfLight)
}

// DistanceM is the great-circle distance between the centres of two cells.
func DistanceM(a, b h3.Cell) float64 {
	return h3.GreatCircleDistanceM(a.LatLng(), b.LatLng())
}

// gridDistance is the H3 grid distance between the parents of a and b at
// res, and false when H3 cannot compute it (h3-go returns 0 on error, so 0
// for distinct cells means failure).
func gridDistance(a, b h3.Cell, res int) (int, bool) {
	pa, pb := a.Parent(res), b.Parent(res)
	if pa == pb {
		return 0, true
	}
	d := h3.GridDistance(pa, pb)
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// tooClose reports whether witness w is nearer than the minimum to beaconer b.
func (c Config) tooClose(b, w h3.Cell) bool {
	if d, ok := gridDistance(b, w, c.MinDistanceRes); ok {
		return d < c.MinDistanceCells
	}
	return DistanceM(b, w) < c.MinDistanceFallbackM
}
