package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc/verify"
)

// BenchmarkReplay measures the start of a pipeline over a day of stored
// results (200,000 beacons of 10 witnesses among 20,000 hotspots, written
// as the verifier writes them, the store reopened so its block cache is
// cold): Recover replays them into the history, the density map and the
// accumulator before the oracle may subscribe. results/s counts results
// replayed.
//
//	go test -run '^$' -bench Replay -benchtime 1x ./poc/ingest/
func BenchmarkReplay(b *testing.B) {
	const results, witnesses, hotspots = 200_000, 10, 20_000
	for range b.N {
		b.StopTimer()
		e := newEnv(b, DefaultConfig())
		keys := make([]identity.PublicKey, hotspots)
		for i := range keys {
			keys[i] = identity.PublicKey(sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))))
		}
		start := e.clk.Now().Add(-24 * time.Hour)
		var out []verdict
		flush := func() {
			if err := e.p.commitLocked(out); err != nil {
				b.Fatal(err)
			}
			out = out[:0]
		}
		for i := range results {
			at := start.Add(time.Duration(i) * 24 * time.Hour / results)
			r := Result{ID: sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))), Epoch: e.p.epoch(at)}
			r.Beaconer = keys[i%hotspots]
			r.Data = r.ID[:verify.PayloadSize-19]
			r.ReceivedAt = at
			r.Scale, r.Units, r.OtherwiseValid = 1, 1, true
			for w := range witnesses {
				r.Witnesses = append(r.Witnesses, verify.WitnessVerdict{Witness: keys[(i+1+w)%hotspots],
					ReceivedAt: at.Add(time.Second), Units: 0.5, Rewarded: true, OtherwiseValid: true, DistanceM: 1000, RSSI: -100, SNR: -5, Frequency: 868_100_000})
			}
			out = append(out, verdict{r: r})
			if len(out) == 1000 {
				flush()
			}
		}
		flush()
		e.close()
		b.StartTimer()
		t0 := time.Now()
		e.open() // Recover
		b.ReportMetric(results/time.Since(t0).Seconds(), "results/s")
		b.StopTimer()
		if _, ok := e.hist.LastBeacon(keys[0]); !ok {
			b.Fatal("nothing replayed")
		}
		e.close()
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op")
}
