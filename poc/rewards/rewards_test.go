package rewards

import (
	"math"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
)

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func TestUnitsHIP15(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		w                 int
		beaconer, witness float64
	}{
		{0, 0, 0},
		{1, 0.25, 1},
		{2, 0.5, 1},
		{4, 1, 1},
		{5, 1.2, 0.76},         // 2−0.8 ; (4−0.2)/5
		{6, 1.36, 0.6066667},   // 2−0.64 ; (4−0.36)/6
		{14, 1.8926, 0.2220},   // Appendix A example
		{40, 1.99966, 0.07500}, // beaconer approaches 2
	}
	for _, tc := range cases {
		b, w := c.Units(tc.w)
		if math.Abs(b-tc.beaconer) > 5e-5 || math.Abs(w-tc.witness) > 5e-5 {
			t.Errorf("w=%d: got %.6f/%.6f want %.6f/%.6f", tc.w, b, w, tc.beaconer, tc.witness)
		}
	}
	b, w := c.Units(14)
	if round4(b) != 1.8926 || round4(w) != 0.2220 {
		t.Fatalf("w=14 rounded: %v %v", round4(b), round4(w))
	}
	sb, sw := c.ScaledUnits(14, 0.5)
	if math.Abs(sb-b/2) > 1e-12 || math.Abs(sw-w/2) > 1e-12 {
		t.Fatal("scaling")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{N: 0, Decay: .8, MaxBeaconerUnits: 2}, {N: 4, Decay: 1, MaxBeaconerUnits: 2}, {N: 4, Decay: .8}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestAccumulator(t *testing.T) {
	a := NewAccumulator()
	var k1, k2 identity.PublicKey
	k1[0], k2[0] = 1, 2
	a.AddBeacon(7, k2, 1)
	a.AddBeacon(7, k2, 0.5)
	a.AddWitness(7, k1, 0.25)
	a.AddWitness(8, k1, 3)
	a.AddBeacon(7, k1, 0) // no entry for zero
	if got := a.Get(7, k2); got != (Totals{Beacon: 1.5}) {
		t.Fatalf("k2 %+v", got)
	}
	s := a.Epoch(7)
	if len(s) != 2 || s[0].Hotspot != k1 || s[0].Witness != 0.25 || s[1].Beacon != 1.5 {
		t.Fatalf("epoch 7 %+v", s)
	}
	a.Forget(7)
	if len(a.Epoch(7)) != 0 || a.Get(8, k1).Witness != 3 {
		t.Fatal("forget")
	}
	var l Ledger = a
	_ = l
}

func TestWeightedScalesAtClose(t *testing.T) {
	acc := NewAccumulator()
	var a, b, c identity.PublicKey
	a[0], b[0], c[0] = 1, 2, 3
	acc.AddBeacon(7, a, 2)
	acc.AddWitness(7, a, 4)
	acc.AddWitness(7, b, 1)
	acc.AddWitness(7, c, 3)
	weight := map[identity.PublicKey]float64{a: 0.5, b: 0, c: 1.5}
	w := Weighted{Ledger: acc, Weight: func(pk identity.PublicKey) float64 { return weight[pk] }}
	got := w.Epoch(7)
	if len(got) != 2 {
		t.Fatalf("shares %+v, want a (halved) and c (capped at 1); b weighted to 0 left out", got)
	}
	if got[0].Hotspot != a || got[0].Beacon != 1 || got[0].Witness != 2 {
		t.Errorf("a: %+v", got[0])
	}
	if got[1].Hotspot != c || got[1].Witness != 3 {
		t.Errorf("c: %+v", got[1])
	}
	// The weights change with trust; the units as earned do not.
	if tot := acc.Get(7, a); tot.Beacon != 2 || tot.Witness != 4 {
		t.Errorf("accumulator changed: %+v", tot)
	}
	w.Forget(7)
	if len(acc.Epoch(7)) != 0 {
		t.Error("Forget did not reach the accumulator")
	}
}
