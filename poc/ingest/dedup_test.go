package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
)

// seenEntries counts the dedup set's pending and judged entries, and the
// keys left in the earlier layout (d/).
func (e *env) seenEntries() (pending, judged, legacy int) {
	e.t.Helper()
	err := e.p.deps.Store.Iterate([]byte("s/"), func(k, v []byte) error {
		if len(k) != seenKeyLen {
			e.t.Fatalf("dedup key of %d bytes", len(k))
		}
		if len(v) > pendingHeader {
			pending++
		} else {
			judged++
		}
		return nil
	})
	if err == nil {
		err = e.p.deps.Store.Iterate([]byte("d/"), func(_, _ []byte) error { legacy++; return nil })
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return pending, judged, legacy
}

// judged admits the group and lets its window close: it must give one result.
func (s *small) judged(t *testing.T) {
	t.Helper()
	s.admitAll(t)
	s.e.advance(6 * time.Second)
	if got := s.e.take(); len(got) != 1 {
		t.Fatalf("%d results, want 1", len(got))
	}
}

// sweepAt runs the dedup sweep at time at and returns what is left.
func (e *env) sweepAt(at time.Time) (pending, judged int) {
	e.t.Helper()
	if err := e.p.sweep(at); err != nil {
		e.t.Fatal(err)
	}
	pending, judged, _ = e.seenEntries()
	return pending, judged
}

// TestDedupAcrossBuckets: a redelivery is a duplicate until DedupTTL after
// the first copy's receive time, from any later bucket of the dedup set,
// with the in-memory filter on or off and across a restart; after DedupTTL
// and a sweep it is no longer remembered.
func TestDedupAcrossBuckets(t *testing.T) {
	for _, filter := range []bool{true, false} {
		name := "filter"
		if !filter {
			name = "store_only"
		}
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			if !filter {
				cfg.DedupFilterBits = 0
			}
			e := newEnv(t, cfg)
			s := newSmall(t, e)
			s.judged(t)
			first := e.clk.Now()
			// Three buckets later, after a restart that rebuilds the filter
			// from the store: every copy is still a duplicate.
			e.clk.Advance(3*seenBucket + time.Minute)
			if bucketOf(e.clk.Now())-bucketOf(first) < 3 {
				t.Fatal("clock did not cross three buckets")
			}
			e.reopen()
			for i, err := range e.handleAll(append([][]byte{s.bp}, s.wps...)) {
				if ReasonOf(err) != poc.ReasonDuplicate {
					t.Fatalf("report %d, %v after the first copy: %v, want duplicate", i, e.clk.Now().Sub(first), err)
				}
			}
			// Past DedupTTL the set forgets them, and the sweep deletes
			// their bucket.
			e.clk.Advance(cfg.DedupTTL)
			if dup, err := e.p.isDuplicate(sha(s.bp), e.clk.Now()); err != nil || dup {
				t.Fatalf("after DedupTTL: duplicate %v, %v", dup, err)
			}
			if _, j, _ := e.seenEntries(); j != 1+len(s.wps) {
				t.Fatalf("before the sweep: %d judged entries", j)
			}
			e.clk.Advance(seenBucket)
			if p, j := e.sweepAt(e.clk.Now()); p != 0 || j != 0 {
				t.Fatalf("after the sweep: %d pending, %d judged entries", p, j)
			}
		})
	}
}

// TestSweepByBucket: the sweep deletes whole buckets whose reports were all
// received more than DedupTTL ago, keeps a younger bucket, and stops at a
// pending report however old, then goes on once it is judged.
func TestSweepByBucket(t *testing.T) {
	cfg := DefaultConfig()
	e := newEnv(t, cfg)
	old := newSmall(t, e)
	old.judged(t)
	oldAt := e.clk.Now()

	e.clk.Advance(2 * seenBucket)
	young := newSmall(t, e)
	young.admitAll(t) // pending: nothing flushes it yet
	if p, j, _ := e.seenEntries(); p != 4 || j != 4 {
		t.Fatalf("before: %d pending, %d judged", p, j)
	}

	// The old bucket has expired, the young one has not.
	at := oldAt.Add(cfg.DedupTTL + seenBucket)
	if p, j := e.sweepAt(at); p != 4 || j != 0 {
		t.Fatalf("after the old bucket expired: %d pending, %d judged", p, j)
	}
	// Long past the young bucket's expiry, its pending reports stay...
	late := at.Add(2 * cfg.DedupTTL)
	if p, _ := e.sweepAt(late); p != 4 {
		t.Fatalf("pending reports swept: %d left", p)
	}
	if want := bucketOf(young.e.clk.Now()); e.p.swept != want {
		t.Fatalf("swept up to bucket %d, want the pending one %d", e.p.swept, want)
	}
	// ...until they are judged.
	e.advance(6 * time.Second)
	if got := e.take(); len(got) != 1 {
		t.Fatalf("%d results, want 1", len(got))
	}
	if p, j := e.sweepAt(late); p != 0 || j != 0 {
		t.Fatalf("after the verdict: %d pending, %d judged", p, j)
	}
}

// TestMigrateLegacyDedup: a store written with the earlier layout
// (d/<hash>) is moved at start: its pending reports are judged, and its
// judged hashes still refuse their redeliveries.
func TestMigrateLegacyDedup(t *testing.T) {
	cfg := DefaultConfig()
	e := newEnv(t, cfg)
	s := newSmall(t, e)
	// Write what the earlier layout held: the beacon judged an hour ago
	// (its dedup expiry still ahead), the witnesses pending.
	now := e.clk.Now()
	b, err := e.p.deps.Store.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	h := sha(s.bp)
	_ = b.Set(append([]byte("d/"), h[:]...), binary.BigEndian.AppendUint64(nil, uint64(now.Add(cfg.DedupTTL/2).UnixNano())))
	for _, w := range s.wps {
		h := sha(w)
		v := binary.BigEndian.AppendUint64(nil, uint64(now.Add(cfg.DedupTTL).UnixNano()))
		v = binary.BigEndian.AppendUint64(v, uint64(now.UnixNano()))
		_ = b.Set(append([]byte("d/"), h[:]...), append(v, w...))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	s.seedHistory()
	if p, j, l := e.seenEntries(); p != len(s.wps) || j != 1 || l != 0 {
		t.Fatalf("after the move: %d pending, %d judged, %d legacy", p, j, l)
	}
	if err := e.p.Handle(wire.PoCTopic(0), s.bp); ReasonOf(err) != poc.ReasonDuplicate {
		t.Fatalf("redelivered beacon: %v, want duplicate", err)
	}
	// The witnesses were reloaded and wait for their beacon, which was
	// judged before the move: they end beacon_not_found, judged once.
	e.advance(cfg.BeaconWait + time.Second)
	got := e.take()
	if len(got) != 1 || len(got[0].Witnesses) != len(s.wps) || got[0].Reason != poc.ReasonBeaconNotFound {
		t.Fatalf("results %+v", got)
	}
	if p, j, _ := e.seenEntries(); p != 0 || j != 1+len(s.wps) {
		t.Fatalf("after the verdict: %d pending, %d judged", p, j)
	}
}

// sha is a report's dedup hash.
func sha(payload []byte) [32]byte { return sha256.Sum256(payload) }

// BenchmarkDedupSweep measures one sweep of a dedup set of an hour of
// reports (13 buckets of 100,000 hashes, on disk) at the moment its oldest
// bucket expires: sweep-ms is the bucketed sweep (reading that bucket and
// deleting it with one range tombstone); fullscan-ms, measured in the same
// run on the same set, is one read of the whole set, which is what the
// earlier sweep did every SweepInterval before deleting key by key.
//
//	go test -run '^$' -bench DedupSweep -benchtime 1x ./poc/ingest/
func BenchmarkDedupSweep(b *testing.B) {
	const buckets, perBucket = 13, 100_000
	for range b.N {
		b.StopTimer()
		cfg := DefaultConfig()
		e := newEnv(b, cfg)
		t0 := e.clk.Now().Truncate(seenBucket)
		var kbuf [seenKeyLen]byte
		for bk := range buckets {
			at := t0.Add(time.Duration(bk)*seenBucket + seenBucket/2)
			v := binary.BigEndian.AppendUint64(nil, uint64(at.Add(cfg.DedupTTL).UnixNano()))
			batch, err := e.p.deps.Store.NewBatch()
			if err != nil {
				b.Fatal(err)
			}
			for i := range perBucket {
				h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(bk*perBucket+i)))
				_ = batch.Set(seenKey(kbuf[:0], at, &h), v)
			}
			if err := batch.Commit(false); err != nil {
				b.Fatal(err)
			}
		}
		now := t0.Add(cfg.DedupTTL + seenBucket) // the first bucket has expired
		e.p.swept = bucketOf(t0)
		start := time.Now()
		n := 0
		if err := e.p.deps.Store.Iterate([]byte("s/"), func(_, v []byte) error {
			if int64(binary.BigEndian.Uint64(v)) <= now.UnixNano() {
				n++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		full := time.Since(start)
		if n != perBucket {
			b.Fatalf("%d expired, want %d", n, perBucket)
		}
		b.StartTimer()
		start = time.Now()
		if err := e.p.sweep(now); err != nil {
			b.Fatal(err)
		}
		sweep := time.Since(start)
		b.StopTimer()
		if _, j, _ := e.seenEntries(); j != (buckets-1)*perBucket {
			b.Fatalf("%d left after the sweep, want %d", j, (buckets-1)*perBucket)
		}
		b.ReportMetric(float64(full.Microseconds())/1e3, "fullscan-ms")
		b.ReportMetric(float64(sweep.Microseconds())/1e3, "sweep-ms")
		b.ReportMetric(buckets*perBucket, "entries")
		e.close()
		b.StartTimer()
	}
	b.ReportMetric(0, "ns/op")
}

// TestPruneResults: results older than ResultRetention go with their time
// and per-hotspot index entries, at most once every pruneEvery; younger
// ones stay queryable and are replayed after a restart.
func TestPruneResults(t *testing.T) {
	cfg := DefaultConfig()
	e := newEnv(t, cfg)
	newSmall(t, e).judged(t)
	e.clk.Advance(cfg.ResultRetention - 2*time.Hour)
	young := newSmall(t, e)
	young.judged(t)
	count := func(prefix string) int {
		n := 0
		if err := e.p.deps.Store.Iterate([]byte(prefix), func(_, _ []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if r, h := count("t/"), count("h/"); r != 2 || h != 8 {
		t.Fatalf("before: %d results, %d hotspot index entries", r, h)
	}
	// Within retention for both: nothing goes.
	if err := e.p.prune(e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if r := count("t/"); r != 2 {
		t.Fatalf("pruned within retention: %d results left", r)
	}
	// Three hours later the old result is past retention.
	e.clk.Advance(3 * time.Hour)
	if err := e.p.prune(e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if r, h := count("t/"), count("h/"); r != 1 || h != 4 {
		t.Fatalf("after: %d results, %d hotspot index entries, want 1, 4", r, h)
	}
	for _, hs := range append([]*hs{young.b}, young.ws...) {
		q, err := e.p.Query(hs.key.Public(), 10)
		if err != nil || len(q) != 1 {
			t.Fatalf("query of %s: %d entries, %v", hs.key.Public(), len(q), err)
		}
	}
	e.reopen()
	if at, ok := e.hist.LastBeacon(young.b.key.Public()); !ok || !at.Equal(young.e.clk.Now().Add(-3*time.Hour-6*time.Second)) {
		t.Fatalf("after a restart the young beacon replays as %v, %v", at, ok)
	}
}

// TestMigrateResultsLayout: results stored in the earlier layout (r/<id>
// with an empty time-index key) are moved under their time keys at start:
// queried and replayed as before, and no r/ key is left.
func TestMigrateResultsLayout(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	s.judged(t)
	// Rewrite the stored result as the earlier layout had it.
	var rec, tk []byte
	if err := e.p.deps.Store.Iterate([]byte("t/"), func(k, v []byte) error {
		tk, rec = append([]byte(nil), k...), append([]byte(nil), v...)
		return nil
	}); err != nil || rec == nil {
		t.Fatalf("no stored result: %v", err)
	}
	b, err := e.p.deps.Store.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Set(append([]byte("r/"), tk[10:]...), rec)
	_ = b.Set(tk, nil)
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	n := 0
	if err := e.p.deps.Store.Iterate([]byte("r/"), func(_, _ []byte) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("%d r/ keys left, %v", n, err)
	}
	q, err := e.p.Query(s.ws[0].key.Public(), 10)
	if err != nil || len(q) != 1 || q[0].Role != "witness" || len(q[0].Witnesses) != 1 {
		t.Fatalf("query after the move: %+v, %v", q, err)
	}
	if _, ok := e.hist.LastBeacon(s.b.key.Public()); !ok {
		t.Fatal("moved result not replayed")
	}
}
