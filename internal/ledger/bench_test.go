package ledger

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
	"github.com/hexnet/hexnet/internal/store"
)

const (
	benchHotspots = 100_000
	benchRecords  = 10_000_000
)

// benchLedger returns a ledger with hotspots onboarded directly into its
// state (each with its own owner), bypassing signature checks.
func benchLedger(b *testing.B, kv KV, hotspots int) (*Ledger, *fakeClock, []identity.PublicKey) {
	b.Helper()
	n := newNet(b)
	cfg := n.cfg
	deps := n.deps()
	deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	deps.Store = kv
	l, err := New(cfg, deps)
	if err != nil {
		b.Fatal(err)
	}
	hs := make([]identity.PublicKey, hotspots)
	for i := range hs {
		var h, o identity.PublicKey
		binary.BigEndian.PutUint64(h[:], uint64(i)*2654435761+1)
		binary.BigEndian.PutUint64(o[:], uint64(i)*40503+7)
		o[31] = 1
		hs[i] = h
		l.st.hotspots[h] = &hotspotRec{owner: o, asserted: true, cell: paris}
	}
	return l, n.clock, hs
}

// fillUnits adds records spread over the hotspots through the same
// aggregation path RecordPoC and RecordDataTransfer use after their
// idempotency check.
func fillUnits(l *Ledger, e uint64, hs []identity.PublicKey, records int) {
	for i := 0; i < records; i++ {
		h := hs[(i*7919)%len(hs)]
		switch i % 4 {
		case 0:
			l.addUnits(e, h, 'p', 1_000_000, 0)
		case 1, 2:
			l.addUnits(e, h, 'p', 0, 250_000+uint64(i%1000))
		default:
			l.addUnits(e, h, 'd', uint64(1+i%50), 0)
		}
	}
}

// BenchmarkEpochClose closes an epoch of 100,000 hotspots whose 10,000,000
// reward-unit records are already summed: the time covers the payout split,
// sorting, Merkle tree, root signature and the journal append.
func BenchmarkEpochClose(b *testing.B) {
	l, clock, hs := benchLedger(b, NewMemKV(), benchHotspots)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := l.st.nextEpoch
		fillUnits(l, e, hs, benchRecords)
		clock.Advance(epochLen)
		b.StartTimer()
		if err := l.closeEpoch(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(l.Epochs()[0].Root)), "root_hex_digits")
}

// BenchmarkProof serves proofs from a closed 100,000-hotspot epoch.
func BenchmarkProof(b *testing.B) {
	l, clock, hs := benchLedger(b, NewMemKV(), benchHotspots)
	e := l.st.nextEpoch
	fillUnits(l, e, hs, benchHotspots*4)
	clock.Advance(epochLen)
	if err := l.closeEpoch(e); err != nil {
		b.Fatal(err)
	}
	root, entries, err := l.Manifest(e)
	if err != nil {
		b.Fatal(err)
	}
	owners := make([]identity.PublicKey, len(entries))
	for i, en := range entries {
		copy(owners[i][:], en.Account)
	}
	b.Run("serve", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.Proofs(e, owners[i%len(owners)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proofs/s")
	})
	b.Run("verify", func(b *testing.B) {
		ps, _ := l.Proofs(e, owners[0])
		for i := 0; i < b.N; i++ {
			if err := merkle.VerifyProof(ps[0].Entry, ps[0], root, l.Oracle()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
	})
}

// BenchmarkRecordPoC records reward units into a Pebble-backed ledger (the
// per-record ingest cost: idempotency lookup, unsynced write, sum).
func BenchmarkRecordPoC(b *testing.B) {
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, _, hs := benchLedger(b, SpaceKV(db.Prefix("ledger/")), 1000)
	e := l.st.nextEpoch
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.RecordPoC(e, hs[i%len(hs)], 1, 0.5, fmt.Sprintf("k%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDebitDC charges packets to a payer in a Pebble-backed ledger.
func BenchmarkDebitDC(b *testing.B) {
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, _, _ := benchLedger(b, SpaceKV(db.Prefix("ledger/")), 1)
	var payer identity.PublicKey
	payer[0] = 9
	l.st.acct(payer).dc = 1 << 62
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.DebitDC(payer, 1, fmt.Sprintf("pkt%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}
