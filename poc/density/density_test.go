package density

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/uber/h3-go/v4"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func pk(i int) identity.PublicKey {
	var k identity.PublicKey
	k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
	return k
}

func newMap(t testing.TB) *Map {
	t.Helper()
	m, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func scale(t testing.TB, m *Map, k identity.PublicKey) float64 {
	t.Helper()
	s, ok := m.Scale(k)
	if !ok {
		t.Fatalf("hotspot %x not counted", k[:3])
	}
	return s
}

// TestHeliumSimpleScaleCheck replays the population of Helium's
// hex_density.rs simple_scale_check (res-12 cells from the live ledger of
// 2022-10-14) and expects Helium's scales.
func TestHeliumSimpleScaleCheck(t *testing.T) {
	indexes := []uint64{
		631210990515536895, 631210990515536895, 631210990515536895,
		631210990515537919, 631210990515537919, 631210990515537919,
		631210990515538431, 631210990515564031, 631210990515589631, 631210990515600383,
		631210990515601919, 631210990515606527, 631210990515722239, 631210990515722239,
		631210990515727359, 631210990515728895, 631210990515739647, 631210990515874303,
		631210990515924479, 631210990516363775, 631210990515987455, 631210990516590079,
		631210990516612607, 631210990516613631, 631210990516640767, 631210990516876799,
		631210990516885503, 631210990516888063, 631210990516907007, 631210990516912639,
		631210990516955647, 631210990516996607, 631210990517011455, 631210990517016575,
		631210990517144063, 631210990517264895,
	}
	want := map[uint64]float64{
		631210990515537919: 0.0060, 631210990516955647: 0.0417, 631210990516885503: 0.0139,
		631210990515601919: 0.0104, 631210990516590079: 0.0556, 631210990516888063: 0.0139,
		631210990516640767: 0.0556, 631210990516907007: 0.0208, 631210990515874303: 0.0556,
		631210990517011455: 0.0139, 631210990516363775: 0.1667, 631210990515589631: 0.0104,
		631210990516996607: 0.0139, 631210990515600383: 0.0104, 631210990517016575: 0.0139,
		631210990515606527: 0.0104, 631210990515739647: 0.0083, 631210990516613631: 0.0278,
		631210990516876799: 0.0139, 631210990515924479: 0.0556, 631210990515538431: 0.0060,
		631210990515536895: 0.0060, 631210990517144063: 0.0833, 631210990517264895: 0.0833,
		631210990516612607: 0.0278, 631210990515722239: 0.0083, 631210990516912639: 0.0208,
		631210990515727359: 0.0083, 631210990515564031: 0.0417, 631210990515728895: 0.0083,
		631210990515987455: 0.0556,
	}
	m := newMap(t)
	for i, idx := range indexes {
		if err := m.Touch(pk(i), h3.Cell(idx), t0); err != nil {
			t.Fatal(err)
		}
	}
	for i, idx := range indexes {
		if got := scale(t, m, pk(i)); got != want[idx] {
			t.Errorf("hotspot %d at %x: scale %v, want %v", i, idx, got, want[idx])
		}
	}
	assertMatchesRebuild(t, m)
}

// cluster returns n res-12 cells, one in each of n distinct res-8 children
// of a res-7 hex.
func clusterRes7(t *testing.T, res7 h3.Cell, n int) []h3.Cell {
	t.Helper()
	kids := res7.Children(8)
	if len(kids) < n {
		t.Fatalf("only %d children", len(kids))
	}
	out := make([]h3.Cell, n)
	for i := range n {
		out[i] = kids[i].CenterChild(12)
	}
	return out
}

func TestHandComputed(t *testing.T) {
	base := h3.LatLngToCell(h3.NewLatLng(52.37, 4.89), 7) // Amsterdam

	t.Run("three in one res-10 hex", func(t *testing.T) {
		m := newMap(t)
		c10 := base.CenterChild(10)
		kids := c10.Children(11)
		for i := range 3 {
			_ = m.Touch(pk(i), kids[i].CenterChild(12), t0)
		}
		// res 10: unclipped 3, limit 1 → 1/3; coarser hexes hold one each.
		for i := range 3 {
			if s := scale(t, m, pk(i)); s != 0.3333 {
				t.Fatalf("scale %v", s)
			}
		}
	})
	t.Run("three in one res-8 hex, different res-9", func(t *testing.T) {
		m := newMap(t)
		c8 := base.CenterChild(8)
		kids := c8.Children(9)
		for i := range 3 {
			_ = m.Touch(pk(i), kids[i].CenterChild(12), t0)
		}
		for i := range 3 {
			if s := scale(t, m, pk(i)); s != 0.3333 {
				t.Fatalf("scale %v", s)
			}
		}
		h, err := m.Hex(c8)
		if err != nil {
			t.Fatal(err)
		}
		if h.Unclipped != 3 || h.Clipped != 1 || h.Limit != 1 || h.Ratio != 0.3333 {
			t.Fatalf("res-8 hex %+v", h)
		}
	})
	t.Run("same res-11 cell, two hotspots", func(t *testing.T) {
		m := newMap(t)
		c := base.CenterChild(12)
		_ = m.Touch(pk(1), c, t0)
		_ = m.Touch(pk(2), c, t0)
		if s := scale(t, m, pk(1)); s != 0.5 {
			t.Fatalf("scale %v", s)
		}
	})
	t.Run("res-7 below target", func(t *testing.T) {
		m := newMap(t)
		for i, c := range clusterRes7(t, base, 4) {
			_ = m.Touch(pk(i), c, t0)
		}
		// 4 < target 5: limit 5, nothing clipped.
		if s := scale(t, m, pk(0)); s != 1 {
			t.Fatalf("scale %v", s)
		}
	})
	t.Run("res-7 isolated over target", func(t *testing.T) {
		m := newMap(t)
		for i, c := range clusterRes7(t, base, 7) {
			_ = m.Touch(pk(i), c, t0)
		}
		// unclipped 7 ≥ 5: occupied 1 (itself), limit min(10, 5·(0+1)) = 5 → 5/7.
		h, _ := m.Hex(base)
		if h.Unclipped != 7 || h.Occupied != 1 || h.Limit != 5 || h.Clipped != 5 {
			t.Fatalf("hex %+v", h)
		}
		for i := range 7 {
			if s := scale(t, m, pk(i)); s != 0.7143 {
				t.Fatalf("scale %v", s)
			}
		}
	})
	t.Run("res-7 dense neighbourhood raises limit", func(t *testing.T) {
		m := newMap(t)
		ring := base.GridDisk(1)
		n := 0
		// base and four neighbours each with 7 occupied res-8 children.
		var hexes []h3.Cell
		hexes = append(hexes, base)
		for _, g := range ring {
			if g != base && len(hexes) < 5 {
				hexes = append(hexes, g)
			}
		}
		for _, hx := range hexes {
			for _, c := range clusterRes7(t, hx, 7) {
				_ = m.Touch(pk(n), c, t0)
				n++
			}
		}
		// base sees 5 occupied hexes: limit min(10, 5·(5−4+1)) = 10 ≥ 7 → ratio 1.
		h, _ := m.Hex(base)
		if h.Occupied != 5 || h.Limit != 10 || h.Clipped != 7 || h.Ratio != 1 {
			t.Fatalf("base %+v", h)
		}
		assertMatchesRebuild(t, m)
		// One of them goes quiet entirely: base drops to 4 occupied, limit 5.
		for i := 7 * 4; i < 7*5; i++ {
			m.Remove(pk(i))
		}
		h, _ = m.Hex(base)
		if h.Occupied != 4 || h.Limit != 5 || h.Clipped != 5 {
			t.Fatalf("after removal %+v", h)
		}
		assertMatchesRebuild(t, m)
	})
	t.Run("uncounted hotspot gets default", func(t *testing.T) {
		m := newMap(t)
		if s, ok := m.Scale(pk(9)); ok || s != 0.2 {
			t.Fatalf("%v %v", s, ok)
		}
	})
}

func TestBadInput(t *testing.T) {
	m := newMap(t)
	if err := m.Touch(pk(1), h3.Cell(12345), t0); err == nil {
		t.Fatal("accepted invalid cell")
	}
	c10 := h3.LatLngToCell(h3.NewLatLng(1, 1), 10)
	if err := m.Touch(pk(1), c10, t0); err == nil {
		t.Fatal("accepted res-10 location")
	}
	if _, err := m.Hex(c10.CenterChild(11)); err == nil {
		t.Fatal("Hex accepted res 11")
	}
	if _, err := m.Hex(0); err == nil {
		t.Fatal("Hex accepted 0")
	}
	bad := DefaultConfig()
	bad.Res[3].Max = 4 // below target 5
	if _, err := New(bad); err == nil {
		t.Fatal("accepted max < target")
	}
}

func TestExpire(t *testing.T) {
	m := newMap(t)
	c := h3.LatLngToCell(h3.NewLatLng(10, 10), 12)
	_ = m.Touch(pk(1), c, t0)
	_ = m.Touch(pk(2), c, t0.Add(30*time.Hour))
	gone := m.Expire(t0.Add(61 * time.Hour))
	if len(gone) != 1 || gone[0] != pk(1) || m.Len() != 1 {
		t.Fatalf("expired %v, len %d", gone, m.Len())
	}
	if s := scale(t, m, pk(2)); s != 1 {
		t.Fatalf("remaining scale %v", s)
	}
}

// assertMatchesRebuild checks that the incrementally kept levels equal a
// full recomputation from the res-11 counts.
func assertMatchesRebuild(t testing.TB, m *Map) {
	t.Helper()
	snap := func() string {
		s := ""
		for r := MinRes; r <= MaxRes; r++ {
			s += fmt.Sprintf("r%d u%v c%v\n", r, m.unclipped[r], m.clipped[r])
		}
		return s
	}
	inc := snap()
	m.rebuild()
	if full := snap(); inc != full {
		t.Fatalf("incremental != full\n%s\n---\n%s", inc, full)
	}
}

// TestIncrementalEqualsFull places, moves and removes hotspots at random in
// a small area (so that limits clip at several resolutions) and checks after
// every step that the incremental state equals a full recomputation, and at
// the end that a fresh map built in a different order agrees.
func TestIncrementalEqualsFull(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 42))
		m := newMap(t)
		centre := h3.NewLatLng(48.85, 2.35)
		place := func() h3.Cell {
			// within ~6 km so res 7 clips; bias towards a hot spot.
			spread := 0.06
			if rng.IntN(3) == 0 {
				spread = 0.01
			}
			return h3.LatLngToCell(h3.NewLatLng(centre.Lat+(rng.Float64()-.5)*spread, centre.Lng+(rng.Float64()-.5)*spread), 12)
		}
		where := map[identity.PublicKey]h3.Cell{}
		for step := range 800 {
			k := pk(rng.IntN(300))
			switch rng.IntN(5) {
			case 0:
				m.Remove(k)
				delete(where, k)
			default:
				c := place()
				if err := m.Touch(k, c, t0); err != nil {
					t.Fatal(err)
				}
				where[k] = c
			}
			if step%100 == 0 {
				assertMatchesRebuild(t, m)
			}
		}
		assertMatchesRebuild(t, m)
		clippedAt := map[int]bool{}
		for r := MinRes; r <= MaxRes; r++ {
			for h, u := range m.unclipped[r] {
				if m.clipped[r][h] < u {
					clippedAt[r] = true
				}
			}
		}
		if !clippedAt[7] || !clippedAt[10] {
			t.Fatalf("seed %d: placement too sparse to exercise clipping: %v", seed, clippedAt)
		}
		fresh := newMap(t)
		for k, c := range where {
			_ = fresh.Touch(k, c, t0)
		}
		for k := range where {
			a, _ := m.Scale(k)
			b, _ := fresh.Scale(k)
			if a != b {
				t.Fatalf("seed %d: scale %v incremental, %v fresh", seed, a, b)
			}
		}
	}
}

func BenchmarkTouch(b *testing.B) {
	m := newMap(b)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; b.Loop(); i++ {
		c := h3.LatLngToCell(h3.NewLatLng(48.85+(rng.Float64()-.5)*.2, 2.35+(rng.Float64()-.5)*.2), 12)
		_ = m.Touch(pk(i%5000), c, t0)
	}
}
