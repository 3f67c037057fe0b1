package ingest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hexnet/hexnet/poc"
)

// hip15 is the HIP-15 formula written out independently of poc/rewards:
// with w rewarded witnesses, N = 4, r = 0.8.
func hip15(w int) (beaconer, witness float64) {
	if w <= 4 {
		return float64(w) / 4, 1
	}
	return math.Min(2, 2-math.Pow(0.8, float64(w-4))), (4 - (1 - math.Pow(0.8, float64(w-4)))) / float64(w)
}

// TestDayReplay replays a day of real signed reports through Handle on a
// simulated clock: 289 hotspots on a 17×17 grid 500 m apart (a few res-7
// hexes), a loner 60 km east witnessed by 6 grid hotspots, and a cluster of
// three hotspots at one spot 60 km south witnessed by 3. Four rounds, one
// per 6 h bucket; every hotspot beacons once per round. It checks the
// HIP-106 bootstrap, and scales and units of the loner and the cluster
// against hand-computed values.
func TestDayReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a day")
	}
	e := newEnv(t, DefaultConfig())
	const side = 17
	grid := make([]*hs, side*side)
	for y := range side {
		for x := range side {
			grid[y*side+x] = e.hotspot(fmt.Sprint("grid", x, y), 48.0+float64(y)*0.0045, 11.0+float64(x)*0.0067)
		}
	}
	at := func(x, y int) *hs {
		if x < 0 || y < 0 || x >= side || y >= side {
			return nil
		}
		return grid[y*side+x]
	}
	loner := e.hotspot("loner", 48.0, 11.0+0.81) // ~60 km east
	var cluster []*hs
	for i := range 3 {
		cluster = append(cluster, e.hotspot(fmt.Sprint("cluster", i), 47.46, 11.02)) // ~60 km south, one spot
	}

	type plan struct {
		b  *hs
		ws []*hs
	}
	// The loner and the cluster beacon first in each round, so that in
	// round 0 they have made no witness report yet and fail reciprocity.
	plans := []plan{{b: loner, ws: []*hs{at(16, 0), at(16, 1), at(16, 2), at(16, 3), at(16, 4), at(16, 5)}}}
	for _, c := range cluster {
		plans = append(plans, plan{b: c, ws: []*hs{at(0, 0), at(1, 0), at(2, 0)}})
	}
	for y := range side {
		for x := range side {
			p := plan{b: at(x, y)}
			for _, o := range [][2]int{{1, 0}, {0, 1}, {-1, 0}, {0, -1}, {1, 1}, {-1, -1}} {
				if w := at(x+o[0], y+o[1]); w != nil {
					p.ws = append(p.ws, w)
				}
			}
			switch {
			case x == side-1 && y == 0:
				p.ws = append(p.ws, loner) // the loner's own witness report (reciprocity)
			case x == 0 && y == 0:
				p.ws = append(p.ws, cluster...)
			}
			plans = append(plans, p)
		}
	}

	byBeaconer := map[string][]Result{} // round → results
	var lastEntropy time.Time
	var ent []byte
	var ets int64
	for round := range 4 {
		e.clk.Advance(time.Duration(round)*6*time.Hour + 30*time.Minute - e.clk.Now().Sub(day0))
		for i, p := range plans {
			if e.clk.Now().Sub(lastEntropy) >= time.Minute {
				ent, ets = e.entropy()
				lastEntropy = e.clk.Now()
			}
			br, bp := beaconReport(t, p.b, ent, ets, []byte{byte(round), byte(i >> 8), byte(i), 7})
			if err := e.p.Handle("hexnet/v1/poc/0", bp); err != nil {
				t.Fatalf("round %d beacon %d: %v", round, i, err)
			}
			e.advance(time.Second)
			var wps [][]byte
			for _, w := range p.ws {
				wps = append(wps, witnessReport(t, w, p.b, br))
			}
			for j, err := range e.handleAll(wps) {
				if err != nil {
					t.Fatalf("round %d beacon %d witness %d: %v", round, i, j, err)
				}
			}
			e.advance(9 * time.Second)
		}
		for _, r := range e.take() {
			if r.WitnessOnly {
				t.Fatalf("round %d: witness-only result %+v", round, r)
			}
			key := fmt.Sprint(round, r.Beaconer)
			byBeaconer[key] = append(byBeaconer[key], r)
			if round == 0 {
				// A fresh network: reciprocity fails until a hotspot has
				// witnessed (beaconer) or had its beacon witnessed (witness);
				// every report is otherwise valid, so history bootstraps.
				if !r.OtherwiseValid {
					t.Fatalf("round 0: beacon %s: %s", r.Beaconer.Name(), r.Reason)
				}
				for _, w := range r.Witnesses {
					if !w.OtherwiseValid && w.Side == 0 {
						t.Fatalf("round 0: witness %s: %s", w.Witness.Name(), w.Reason)
					}
				}
				continue
			}
			if r.Reason != poc.ReasonNone {
				t.Fatalf("round %d: beacon %s: %s", round, r.Beaconer.Name(), r.Reason)
			}
			for _, w := range r.Witnesses {
				if w.Reason != poc.ReasonNone {
					t.Fatalf("round %d: witness %s of %s: %s", round, w.Witness.Name(), r.Beaconer.Name(), w.Reason)
				}
			}
		}
	}
	one := func(round int, h *hs) Result {
		rs := byBeaconer[fmt.Sprint(round, h.key.Public())]
		if len(rs) != 1 {
			t.Fatalf("round %d: %d results of %s", round, len(rs), h.key.Public().Name())
		}
		return rs[0]
	}
	check := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: got %.6f, want %.6f", what, got, want)
		}
	}

	for _, h := range append([]*hs{loner}, cluster...) {
		if r := one(0, h); r.Reason != poc.ReasonGatewayNoValidWitnesses {
			t.Errorf("round 0: %s: %s, want gateway_no_valid_witnesses", h.key.Public().Name(), r.Reason)
		}
	}

	// The loner is alone in every hex from res 4 to 10: scale 1, units are
	// HIP-15 with w = 6.
	lb, lw := hip15(6)
	for round := 1; round < 4; round++ {
		r := one(round, loner)
		check(fmt.Sprint("loner scale, round ", round), r.Scale, 1)
		check(fmt.Sprint("loner units, round ", round), r.Units, lb)
		for _, w := range r.Witnesses {
			check("loner's witness units", w.Units, lw)
		}
	}
	check("loner beacon units of the day", e.acc.Get(e.p.epoch(day0), loner.key.Public()).Beacon, 3*lb)

	// The cluster: three interactive hotspots in one res-10 hex (res 10:
	// target 1, max 1) → ratio 1/3 there and 1 elsewhere: scale 0.3333.
	// In round 1 they become interactive one after another: 1, 1/2, 1/3.
	cb, cw := hip15(3)
	for i, c := range cluster {
		first := []float64{1, 0.5, 0.3333}[i]
		check(fmt.Sprintf("cluster %d scale, round 1", i), one(1, c).Scale, first)
		total := cb * first
		for round := 2; round < 4; round++ {
			r := one(round, c)
			check(fmt.Sprintf("cluster %d scale, round %d", i, round), r.Scale, 0.3333)
			check(fmt.Sprintf("cluster %d units, round %d", i, round), r.Units, cb*0.3333)
			for _, w := range r.Witnesses {
				check("cluster witness units", w.Units, cw*0.3333)
			}
			total += cb * 0.3333
		}
		check(fmt.Sprintf("cluster %d beacon units of the day", i), e.acc.Get(e.p.epoch(day0), c.key.Public()).Beacon, total)
	}
	if sc, ok := e.dens.Scale(cluster[0].key.Public()); !ok || sc != 0.3333 {
		t.Errorf("cluster density scale %v %v", sc, ok)
	}
	if n := e.dens.Len(); n != len(plans) {
		t.Errorf("%d interactive hotspots, want %d", n, len(plans))
	}

	// The accumulator holds exactly the units of the stored verdicts.
	sum := map[string]float64{}
	for _, rs := range byBeaconer {
		for _, r := range rs {
			sum[r.Beaconer.String()] += r.Units
		}
	}
	for _, s := range e.acc.Epoch(e.p.epoch(day0)) {
		check("accumulated beacon units of "+s.Hotspot.Name(), s.Beacon, sum[s.Hotspot.String()])
	}
}
