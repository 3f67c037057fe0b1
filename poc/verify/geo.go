package verify

import (
	"math"
	"sync"

	"github.com/uber/h3-go/v4"
)

// SpeedOfLight is c in m/s as in Helium's verifier.
const SpeedOfLight = 2.998e8

// earthRadiusM is H3's mean Earth radius (EARTH_RADIUS_KM), so that
// haversineM agrees with h3.GreatCircleDistanceM.
const earthRadiusM = 6371.007180918475e3

// FSPL is the free-space path loss in dB over d metres at f hertz:
// 20·log10(4π·d·f/c).
func FSPL(d, f float64) float64 {
	return 20 * math.Log10(4*math.Pi*d*f/SpeedOfLight)
}

// DistanceM is the great-circle distance between the centres of two cells.
func DistanceM(a, b h3.Cell) float64 {
	return h3.GreatCircleDistanceM(a.LatLng(), b.LatLng())
}

// haversineM is the great-circle distance in metres between two points in
// degrees, by the haversine formula H3 uses, in Go (no cgo call).
func haversineM(a, b h3.LatLng) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat*rad, b.Lat*rad
	sinLat := math.Sin((lat2 - lat1) / 2)
	sinLng := math.Sin((b.Lng - a.Lng) * rad / 2)
	x := sinLat*sinLat + math.Cos(lat1)*math.Cos(lat2)*sinLng*sinLng
	return 2 * math.Atan2(math.Sqrt(x), math.Sqrt(1-x)) * earthRadiusM
}

// maxCenters bounds the cell-centre cache; past it the cache starts over.
const maxCenters = 1 << 20

// geo answers the distance questions of the witness rules. A hotspot's
// cell centre is computed once (an H3 cgo call) and kept, so judging a
// witness costs no cgo call unless the pair is near the minimum distance.
type geo struct {
	minRes   int
	minCells int
	fallback float64
	// farM is a distance beyond which the H3 grid distance at minRes is
	// surely at least minCells, so the grid distance is not computed.
	farM float64

	mu      sync.Mutex
	centers map[h3.Cell]h3.LatLng
}

func newGeo(c Config) *geo {
	g := &geo{minRes: c.MinDistanceRes, minCells: c.MinDistanceCells, fallback: c.MinDistanceFallbackM,
		centers: map[h3.Cell]h3.LatLng{}}
	// A step between neighbouring cells spans two circumradii, and a hexagon's
	// circumradius is its edge, which varies over the globe by less than 1.5×
	// the average; each res-12 location is up to one more circumradius from
	// its parent's centre. Four average edges a step, and two steps more for
	// the parents, overestimate every case.
	if edge := h3.HexagonEdgeLengthAvgM(c.MinDistanceRes); edge > 0 {
		g.farM = float64(c.MinDistanceCells+2) * 4 * edge
	}
	return g
}

// center returns the cached centre of cell.
func (g *geo) center(cell h3.Cell) h3.LatLng {
	g.mu.Lock()
	ll, ok := g.centers[cell]
	g.mu.Unlock()
	if ok {
		return ll
	}
	ll = cell.LatLng()
	g.mu.Lock()
	if len(g.centers) >= maxCenters {
		clear(g.centers)
	}
	g.centers[cell] = ll
	g.mu.Unlock()
	return ll
}

// distanceM is DistanceM with cached centres.
func (g *geo) distanceM(a, b h3.Cell) float64 {
	return haversineM(g.center(a), g.center(b))
}

// tooClose reports whether witness w is nearer than the minimum to beaconer
// b, given their distance d in metres: fewer than minCells apart at minRes,
// or, where H3 cannot tell, nearer than the fallback distance.
func (g *geo) tooClose(b, w h3.Cell, d float64) bool {
	if g.farM > 0 && d > g.farM {
		return false
	}
	if n, ok := gridDistance(b, w, g.minRes); ok {
		return n < g.minCells
	}
	return d < g.fallback
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

// tooClose reports whether witness w is nearer than the minimum to beaconer
// b, without the cache (the rule as written; tests compare the two).
func (c Config) tooClose(b, w h3.Cell) bool {
	if d, ok := gridDistance(b, w, c.MinDistanceRes); ok {
		return d < c.MinDistanceCells
	}
	return DistanceM(b, w) < c.MinDistanceFallbackM
}
