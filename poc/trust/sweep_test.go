package trust

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// TestSweep measures the detector over many seeds of the verdict-level
// simulation (40 honest hotspots and the devnet's 15 cheaters, 3 days
// each): how many honest hotspots are ever flagged and the worst per-head
// share any kind of cheater earns. It is a measurement, not a regression
// test, and runs only when asked:
//
//	HEXNET_TRUST_SWEEP=100 go test -run TestSweep -v ./poc/trust/
func TestSweep(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HEXNET_TRUST_SWEEP"))
	if n <= 0 {
		t.Skip("set HEXNET_TRUST_SWEEP to the number of seeds")
	}
	total, flagged := 0, 0
	worst := map[kind]float64{}
	for seed := uint64(100); seed < 100+uint64(n); seed++ {
		pop := newPopulation(seed, 40, 3, 6, 3, 3)
		on := simulate(t, pop, DefaultConfig(), 3, seed)
		total += on.count[kHonest]
		flagged += on.flagged[kHonest]
		for _, k := range simKinds[1:] {
			worst[k] = max(worst[k], on.reward[k]/on.reward[kHonest])
		}
		for _, h := range pop.hs {
			if h.kind == kHonest && on.tracker.Flagged()[h.key] {
				t.Logf("seed %d: honest %s flagged: %+v", seed, h.id, on.tracker.Score(h.key))
			}
		}
	}
	t.Logf("%d seeds: honest flagged %d of %d", n, flagged, total)
	for _, k := range simKinds[1:] {
		t.Logf("%-10s worst per-head share %s", k, fmt.Sprintf("%.2f %%", 100*worst[k]))
	}
}
