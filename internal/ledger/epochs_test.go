package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/ledger/merkle"
)

// rewardScenario onboards three hotspots (the first one then given to other)
// and records units for the current epoch; it returns the epoch.
func rewardScenario(t *testing.T, n *testNet) ([]*identity.Key, uint64) {
	t.Helper()
	hs := n.setup(3)
	n.must(n.submit(n.owner, &ledgerpb.TransferHotspot{Nonce: n.nonce(n.owner), Hotspot: hs[0].Public().Bytes(), NewOwner: n.other.Public().Bytes()}))
	l := n.l
	e := l.NextEpoch()
	n.must(l.RecordPoC(e, hs[0].Public(), 1, 2, "poc-0"))
	n.must(l.RecordPoC(e, hs[0].Public(), 1, 2, "poc-0")) // retry: ignored
	n.must(l.RecordPoC(e, hs[1].Public(), 1, 0, "poc-1"))
	n.must(l.RecordPoC(e, hs[2].Public(), 0, 2, "poc-2"))
	n.must(l.RecordDataTransfer(e, hs[1].Public(), 100, "dt-1"))
	n.must(l.RecordDataTransfer(e, hs[2].Public(), 2000, "dt-2"))
	n.must(l.RecordDataTransfer(e, hs[2].Public(), 2000, "dt-2"))
	return hs, e
}

func TestEpochCloseRewards(t *testing.T) {
	n := newNet(t)
	hs, e := rewardScenario(t, n)
	l := n.l
	before := map[string]uint64{}
	for _, k := range []*identity.Key{n.owner, n.other, n.admin, n.oracle} {
		before[string(k.Address())] = balance(t, l, k).Tokens
	}
	if c, err := l.CloseDue(); err != nil || c != 0 {
		t.Fatalf("closed early: %d %v", c, err)
	}
	n.clock.Advance(epochLen)
	if c, err := l.CloseDue(); err != nil || c != 1 {
		t.Fatalf("close: %d %v", c, err)
	}
	// emission 1,000,000: beacon 60,000 over 2 units, witness 240,000 over 4,
	// data 500,000 over 2,100 DC capped at DC x 10 tokens, ops and oracles 70,000 each.
	want := map[*identity.Key]uint64{
		n.other:  30_000 + 120_000,
		n.owner:  30_000 + 1_000 + 120_000 + 20_000,
		n.admin:  70_000,
		n.oracle: 70_000,
	}
	for k, w := range want {
		if got := balance(t, l, k).Tokens - before[string(k.Address())]; got != w {
			t.Errorf("%s paid %d, want %d", k.Address(), got, w)
		}
	}
	eps := l.Epochs()
	if len(eps) != 1 || eps[0].Epoch != e || eps[0].Emitted != 461_000 || len(eps[0].Root) != 64 || eps[0].Entries != 5 {
		t.Fatalf("epochs: %+v", eps)
	}
	root, entries, err := l.Manifest(e)
	n.must(err)
	for i := 1; i < len(entries); i++ {
		a, b := entries[i-1], entries[i]
		if c := bytes.Compare(a.Account, b.Account); c > 0 || c == 0 && bytes.Compare(a.Hotspot, b.Hotspot) >= 0 {
			t.Fatal("manifest not sorted by account then hotspot")
		}
	}
	// every entry proves against the signed root; owner has two entries
	for _, k := range []*identity.Key{n.owner, n.other, n.admin, n.oracle} {
		proofs, err := l.Proofs(e, k.Public())
		n.must(err)
		for _, p := range proofs {
			if err := merkle.VerifyProof(p.Entry, p, root, n.oracle.Public()); err != nil {
				t.Fatalf("proof for %s: %v", k.Address(), err)
			}
			if err := merkle.VerifyProof(p.Entry, p, root, n.owner.Public()); !errors.Is(err, merkle.ErrBadRootSignature) {
				t.Fatalf("proof accepted under another key: %v", err)
			}
		}
		if k == n.owner && len(proofs) != 2 {
			t.Fatalf("owner has %d proofs, want 2", len(proofs))
		}
	}
	if ps, err := l.Proofs(e, hs[2].Public()); err != nil || len(ps) != 1 || !bytes.Equal(ps[0].Entry.Hotspot, hs[2].Public().Bytes()) {
		t.Fatalf("proof by hotspot: %v %v", ps, err)
	}
	if _, err := l.Proofs(e, testKey(t, 55).Public()); !errors.Is(err, ErrNotInManifest) {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := l.Proofs(e+5, n.owner.Public()); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatalf("unknown epoch: %v", err)
	}
	// manifest read back from the journal after a restart gives the same proofs
	n.open()
	ps, err := n.l.Proofs(e, n.owner.Public())
	n.must(err)
	if err := merkle.VerifyProof(ps[0].Entry, ps[0], root, n.oracle.Public()); err != nil {
		t.Fatal(err)
	}
	// inputs for a closed epoch are refused; unknown hotspots, bad units and future epochs too
	for name, c := range map[string]struct {
		err  error
		want error
	}{
		"closed":  {n.l.RecordPoC(e, hs[0].Public(), 1, 1, "late"), ErrEpochClosed},
		"unknown": {n.l.RecordPoC(e+1, testKey(t, 55).Public(), 1, 1, "x"), ErrUnknownHotspot},
		"nan":     {n.l.RecordPoC(e+1, hs[0].Public(), math.NaN(), 1, "x"), ErrBadUnits},
		"neg":     {n.l.RecordPoC(e+1, hs[0].Public(), -1, 1, "x"), ErrBadUnits},
		"huge":    {n.l.RecordPoC(e+1, hs[0].Public(), 1e9, 1, "x"), ErrBadUnits},
		"future":  {n.l.RecordPoC(e+3, hs[0].Public(), 1, 1, "x"), ErrFutureEpoch},
		"key":     {n.l.RecordDataTransfer(e+1, hs[0].Public(), 1, ""), ErrMalformed},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", name, c.err, c.want)
		}
	}
}

func TestEmptyEpochRoot(t *testing.T) {
	n := newNet(t)
	n.cfg.OperationsBP, n.cfg.OraclesBP = 0, 0
	n.kv = NewMemKV()
	n.open()
	n.clock.Advance(3 * epochLen)
	if c, err := n.l.CloseDue(); err != nil || c != 3 {
		t.Fatalf("closed %d epochs: %v", c, err)
	}
	for _, ep := range n.l.Epochs() {
		if ep.Root != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || ep.Entries != 0 {
			t.Fatalf("empty epoch root %q", ep.Root)
		}
		if err := merkle.VerifyRoot(ep.Signed, n.oracle.Public()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCloseCrash injects a failure at each step of a close, reopens the
// ledger on the same store as a restarted process would, and checks the
// result equals an uninterrupted run: paid exactly once.
func TestCloseCrash(t *testing.T) {
	ref := newNet(t)
	rewardScenario(t, ref)
	ref.must(ref.l.DebitDC(ref.maker.Public(), 25, "pkt"))
	ref.clock.Advance(epochLen)
	if _, err := ref.l.CloseDue(); err != nil {
		t.Fatal(err)
	}
	want := snapshot(ref.l)

	for _, step := range []string{"before_journal", "journal_commit", "after_journal"} {
		t.Run(step, func(t *testing.T) {
			n := newNet(t)
			rewardScenario(t, n)
			n.must(n.l.DebitDC(n.maker.Public(), 25, "pkt"))
			n.clock.Advance(epochLen)
			boom := errors.New("injected crash")
			n.l.faults = func(s string) error {
				if s == step {
					return boom
				}
				return nil
			}
			if _, err := n.l.CloseDue(); !errors.Is(err, boom) {
				t.Fatalf("close: %v", err)
			}
			n.open() // restart on the same store; the old instance is abandoned
			if _, err := n.l.CloseDue(); err != nil {
				t.Fatal(err)
			}
			if _, err := n.l.CloseDue(); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(n.l); got != want {
				t.Fatalf("after a crash at %s:\n%s\n--- want ---\n%s", step, got, want)
			}
			// the epoch's inputs are gone from the store
			left := 0
			n.must(n.kv.Iterate(inputPrefix, func(k, v []byte) error { left++; return nil }))
			if left != 0 {
				t.Fatalf("%d reward inputs of the closed epoch left", left)
			}
		})
	}
}

func TestDebitDC(t *testing.T) {
	n := newNet(t)
	l := n.l
	payer := n.maker.Public()
	start := l.DCBalance(payer)
	n.must(l.DebitDC(payer, 10, "p1"))
	n.must(l.DebitDC(payer, 10, "p1")) // retry: not charged twice
	n.must(l.DebitDC(payer, 5, "p2"))
	if got := l.DCBalance(payer); got != start-15 {
		t.Fatalf("balance %d, want %d", got, start-15)
	}
	if err := l.DebitDC(payer, start, "p3"); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("overdraft: %v", err)
	}
	if err := l.DebitDC(testKey(t, 44).Public(), 1, "p4"); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("unknown payer: %v", err)
	}
	if err := l.DebitDC(payer, 0, "p5"); !errors.Is(err, ErrBadAmount) {
		t.Fatalf("zero debit: %v", err)
	}
	h := l.Height()
	n.clock.Advance(epochLen)
	if _, err := l.CloseDue(); err != nil {
		t.Fatal(err)
	}
	a, _ := l.Account(n.maker.Public())
	if a.PendingDC != 0 || a.DC != start-15 || l.Height() != h+1 {
		t.Fatalf("after fold: %+v, height %d -> %d", a, h, l.Height())
	}
	n.must(l.DebitDC(payer, 10, "p1")) // late retry after the fold: still not charged
	n.must(l.DebitDC(payer, 1, "p6"))
	n.open()
	if a, _ := n.l.Account(n.maker.Public()); a.PendingDC != 1 || a.DC != start-16 {
		t.Fatalf("after restart: %+v", a)
	}
	// a close folds p6 and prunes p1, p2 (folded one epoch earlier)
	n.clock.Advance(epochLen)
	if _, err := n.l.CloseDue(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	n.must(n.kv.Iterate(debitPrefix, func(k, v []byte) error { keys = append(keys, string(k)); return nil }))
	if len(keys) != 1 || keys[0] != "d/p6" {
		t.Fatalf("debit log after prune: %v", keys)
	}
}

func TestRunClosesEpochs(t *testing.T) {
	n := newNet(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.l.Run(ctx) }()
	n.clock.Advance(2 * epochLen)
	deadline := time.Now().Add(10 * time.Second)
	for len(n.l.Epochs()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(n.l.Epochs()); got != 2 {
		t.Fatalf("Run closed %d epochs, want 2", got)
	}
	n.must(n.l.Close())
	n.must(n.l.Close())
	if err := n.l.Submit(nil); err == nil {
		t.Fatal("submit after close accepted")
	}
	if err := n.l.DebitDC(n.maker.Public(), 1, "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("debit after close: %v", err)
	}
	if err := n.l.Run(context.Background()); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestTopUpsChargeAndBeforeClose(t *testing.T) {
	n := newNet(t)
	hs := n.setup(1)
	var got []identity.PublicKey
	n.l.SubscribeTopUps(func(p identity.PublicKey) {
		n.l.DCBalance(p) // callbacks may call back into the ledger
		got = append(got, p)
	})
	n.must(n.submit(n.owner, &ledgerpb.BurnForDC{Nonce: n.nonce(n.owner), Dc: 3}))
	n.must(n.submit(n.maker, &ledgerpb.CreateOUI{Nonce: n.nonce(n.maker)}))
	n.must(n.submit(n.owner, &ledgerpb.DelegateDC{Nonce: n.nonce(n.owner), Oui: 1, Dc: 2}))
	if len(got) != 2 || got[0] != n.owner.Public() || got[1] != n.maker.Public() {
		t.Fatalf("top-ups %v", got)
	}
	if c, err := n.l.ChargeDC(n.maker.Public(), 4, "x"); !c || err != nil {
		t.Fatalf("first charge: %v %v", c, err)
	}
	if c, err := n.l.ChargeDC(n.maker.Public(), 4, "x"); c || err != nil {
		t.Fatalf("repeated charge: %v %v", c, err)
	}
	// BeforeClose records the last inputs of the epoch; a failing hook postpones the close
	fail := true
	deps := n.deps()
	deps.BeforeClose = func(e uint64) error {
		if fail {
			return errors.New("not ready")
		}
		return n.l.RecordPoC(e, hs[0].Public(), 2, 0, "late-batch")
	}
	l, err := New(n.cfg, deps)
	n.must(err)
	n.l = l
	n.clock.Advance(epochLen)
	if c, err := l.CloseDue(); c != 0 || err == nil {
		t.Fatalf("close despite a failing hook: %d %v", c, err)
	}
	fail = false
	if c, err := l.CloseDue(); c != 1 || err != nil {
		t.Fatalf("close: %d %v", c, err)
	}
	_, entries, err := l.Manifest(l.Epochs()[0].Epoch)
	n.must(err)
	found := false
	for _, e := range entries {
		found = found || bytes.Equal(e.Hotspot, hs[0].Public().Bytes()) && e.Beacon > 0
	}
	if !found {
		t.Fatal("units recorded by BeforeClose were not paid")
	}
}

// TestConcurrentUse debits, records, submits, reads and closes from several
// goroutines at once: every debit is charged exactly once overall.
func TestConcurrentUse(t *testing.T) {
	n := newNet(t)
	hs := n.setup(2)
	payer := n.maker.Public()
	start := n.l.DCBalance(payer)
	var wg sync.WaitGroup
	charged := make([]int, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				// two goroutines share each key, so half the calls are repeats
				if c, err := n.l.ChargeDC(payer, 1, fmt.Sprintf("k%d-%d", g/2, i)); err == nil && c {
					charged[g]++
				}
				_ = n.l.RecordPoC(n.l.NextEpoch(), hs[i%2].Public(), 1, 1, fmt.Sprintf("u%d-%d", g, i))
				n.l.Account(payer)
				n.l.OUIs()
				if i == 100 && g == 0 {
					n.clock.Advance(epochLen)
					if _, err := n.l.CloseDue(); err != nil {
						t.Error(err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	total := 0
	for _, c := range charged {
		total += c
	}
	if total != 400 {
		t.Fatalf("%d debits charged, want 400 (2 keys sets x 200)", total)
	}
	if got := n.l.DCBalance(payer); got != start-400 {
		t.Fatalf("balance %d, want %d", got, start-400)
	}
	live := snapshot(n.l)
	n.open()
	if got := snapshot(n.l); got != live {
		t.Fatal("replay after concurrent use differs")
	}
}

// TestChargeTransferRecordsWithTheDebit: a charge and its data-transfer
// record are one write; a repeated key repeats neither; a record the ledger
// refuses leaves the debit standing and says why; the close pays exactly the
// recorded DC.
func TestChargeTransferRecordsWithTheDebit(t *testing.T) {
	n := newNet(t)
	hs := n.setup(2)
	n.must(n.submit(n.owner, &ledgerpb.BurnForDC{Nonce: n.nonce(n.owner), Dc: 100}))
	l, payer := n.l, n.owner.Public()
	start := l.DCBalance(payer)
	e := l.NextEpoch()
	charge := func(amount uint64, key string, h identity.PublicKey, epoch uint64, wantErr error) {
		t.Helper()
		c, err := l.ChargeTransfer(payer, amount, "r/"+key, Transfer{Epoch: epoch, Hotspot: h, Key: "dt/" + key})
		if !c || !errors.Is(err, wantErr) {
			t.Fatalf("charge %s: charged=%v err=%v, want charged with %v", key, c, err, wantErr)
		}
	}
	charge(10, "a", hs[0].Public(), e, nil)
	if c, err := l.ChargeTransfer(payer, 10, "r/a", Transfer{Epoch: e, Hotspot: hs[0].Public(), Key: "dt/a"}); c || err != nil {
		t.Fatalf("repeated charge: %v %v", c, err)
	}
	charge(30, "b", hs[1].Public(), e, nil)
	charge(5, "c", testKey(t, 99).Public(), e, ErrUnknownHotspot)
	charge(5, "d", hs[0].Public(), e+5, ErrFutureEpoch)
	if got := l.DCBalance(payer); got != start-50 {
		t.Fatalf("balance %d, want %d", got, start-50)
	}
	if _, err := l.ChargeTransfer(payer, 1, "r/e", Transfer{Epoch: e, Hotspot: hs[0].Public()}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty transfer key: %v", err)
	}
	n.clock.Advance(epochLen)
	if c, err := l.CloseDue(); c != 1 || err != nil {
		t.Fatalf("close: %d %v", c, err)
	}
	charge(5, "f", hs[0].Public(), e, ErrEpochClosed)
	_, entries, err := l.Manifest(e)
	n.must(err)
	paid := map[string]uint64{}
	for _, en := range entries {
		paid[string(en.Hotspot)] = en.DataTransfer
	}
	// 40 DC recorded: the pool is capped at DC × 10 tokens.
	if a, b := paid[string(hs[0].Public().Bytes())], paid[string(hs[1].Public().Bytes())]; a != 100 || b != 300 {
		t.Fatalf("data transfer paid %d and %d, want 100 and 300", a, b)
	}
}
