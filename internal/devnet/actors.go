package devnet

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"

	"github.com/hexnet/hexnet/internal/identity"
)

// Kind is what a simulated hotspot is: honest, or one kind of cheater.
type Kind string

// Hotspot kinds; the network is never told which is which.
const (
	Honest    Kind = "honest"
	Spoof     Kind = "spoof"
	Ring      Kind = "ring"
	RSSIForge Kind = "rssi_forge"
	Replay    Kind = "replay"
)

// Kinds lists every kind in summary order.
var Kinds = []Kind{Honest, Spoof, Ring, RSSIForge, Replay}

// hotspotPlan is one hotspot of the run before it starts: its key, where it
// really is, and where it tells the network it is.
type hotspotPlan struct {
	index            int
	kind             Kind
	key              *identity.Key
	owner            *identity.Key
	trueLat, trueLng float64
	assLat, assLng   float64
	ring             int // ring number for Ring members
	gainDBiX10       int32
	heightM          float64
}

// seededKey derives a deterministic key from the scenario seed and a label.
func seededKey(seed uint64, label string) *identity.Key {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.Sum256(append(b[:], label...))
	k, _ := identity.FromSeed(h[:]) // 32-byte seed: cannot fail
	return k
}

// offset moves (lat, lng) by north/east metres.
func offset(lat, lng, north, east float64) (float64, float64) {
	return lat + north/111320, lng + east/(111320*math.Cos(lat*math.Pi/180))
}

// inDisk draws a point uniformly in a disk of radius r metres.
func inDisk(rng *mrand.Rand, lat, lng, r float64) (float64, float64) {
	d := r * math.Sqrt(rng.Float64())
	a := 2 * math.Pi * rng.Float64()
	return offset(lat, lng, d*math.Cos(a), d*math.Sin(a))
}

// plan places every hotspot of the scenario.
func plan(s *Scenario, rng *mrand.Rand) []*hotspotPlan {
	var out []*hotspotPlan
	add := func(kind Kind, lat, lng float64) *hotspotPlan {
		i := len(out)
		p := &hotspotPlan{
			index: i, kind: kind,
			key:     seededKey(s.Seed, fmt.Sprintf("hotspot-%d", i)),
			owner:   seededKey(s.Seed, fmt.Sprintf("owner-%d", i)),
			trueLat: lat, trueLng: lng, assLat: lat, assLng: lng,
			gainDBiX10: int32(math.Round(s.Hotspots.GainDBi * 10)),
			heightM:    s.Hotspots.HeightM,
		}
		out = append(out, p)
		return p
	}
	h := s.Hotspots
	if len(h.Coords) > 0 {
		for _, c := range h.Coords {
			add(Honest, c[0], c[1])
		}
	} else {
		for i := 0; i < h.Count; i++ {
			lat, lng := inDisk(rng, h.CenterLat, h.CenterLng, h.RadiusM)
			add(Honest, lat, lng)
		}
	}
	cLat, cLng, r := h.CenterLat, h.CenterLng, h.RadiusM
	if len(h.Coords) > 0 {
		cLat, cLng, r = h.Coords[0][0], h.Coords[0][1], 2000
	}
	c := s.Cheaters
	// Spoofers sit far away and assert a location inside the honest area.
	for i := 0; i < c.Spoof; i++ {
		a := 2 * math.Pi * rng.Float64()
		tLat, tLng := offset(cLat, cLng, c.SpoofKM*1000*math.Cos(a), c.SpoofKM*1000*math.Sin(a))
		p := add(Spoof, tLat, tLng)
		p.assLat, p.assLng = inDisk(rng, cLat, cLng, r)
	}
	// Ring members all sit together far from the area (so they hear no one
	// honestly) and assert spread-out locations inside it.
	for i := 0; i < c.Ring; i++ {
		ringNo := i / c.RingSize
		a := 2*math.Pi*float64(ringNo)/3 + 0.5
		tLat, tLng := offset(cLat, cLng, 3*c.SpoofKM*1000*math.Cos(a), 3*c.SpoofKM*1000*math.Sin(a))
		tLat, tLng = inDisk(rng, tLat, tLng, 50)
		p := add(Ring, tLat, tLng)
		p.ring = ringNo
		p.assLat, p.assLng = inDisk(rng, cLat, cLng, r)
	}
	// RSSI forgers and replayers are where they say they are.
	for i := 0; i < c.RSSIForge; i++ {
		lat, lng := inDisk(rng, cLat, cLng, r)
		add(RSSIForge, lat, lng)
	}
	for i := 0; i < c.Replay; i++ {
		lat, lng := inDisk(rng, cLat, cLng, r)
		add(Replay, lat, lng)
	}
	return out
}
