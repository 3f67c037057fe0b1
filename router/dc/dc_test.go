package dc

import (
	"errors"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
)

func openSpace(t *testing.T) (*store.DB, *store.Space) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, db.Prefix("router/").Prefix("dc/")
}

func TestCost(t *testing.T) {
	for n, want := range map[int]uint64{0: 1, 1: 1, 24: 1, 25: 2, 48: 2, 49: 3, 255: 11} {
		if got := Cost(n); got != want {
			t.Errorf("Cost(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestDebitIdempotentAndInsufficient(t *testing.T) {
	_, sp := openSpace(t)
	s := NewStore(sp)
	var topped []string
	s.Subscribe(func(p string) { topped = append(topped, p) })
	if _, err := s.Debit("p", 1, []byte("k0")); !errors.Is(err, ErrInsufficientDC) {
		t.Fatalf("empty balance: %v", err)
	}
	if err := s.Credit("p", 5); err != nil {
		t.Fatal(err)
	}
	if len(topped) != 1 || topped[0] != "p" {
		t.Fatalf("top-up notifications %v", topped)
	}
	ok, err := s.Debit("p", 3, []byte("k1"))
	if !ok || err != nil {
		t.Fatalf("first debit %v %v", ok, err)
	}
	ok, err = s.Debit("p", 3, []byte("k1"))
	if ok || err != nil || s.Balance("p") != 2 {
		t.Fatalf("redelivered debit charged=%v err=%v balance=%d", ok, err, s.Balance("p"))
	}
	if _, err := s.Debit("p", 3, []byte("k2")); !errors.Is(err, ErrInsufficientDC) {
		t.Fatalf("overdraft: %v", err)
	}
	// A fresh Store over the same space sees the balance and the key.
	s2 := NewStore(sp)
	if s2.Balance("p") != 2 {
		t.Fatalf("reloaded balance %d", s2.Balance("p"))
	}
	if ok, _ := s2.Debit("p", 1, []byte("k1")); ok {
		t.Fatal("idempotency key lost on reload")
	}
	if _, err := s.Debit("", 1, []byte("k")); !errors.Is(err, ErrBadKey) {
		t.Fatal("empty payer accepted")
	}
}

func TestTransfers(t *testing.T) {
	_, sp := openSpace(t)
	tr := NewTransfers(sp)
	var h1, h2 identity.PublicKey
	h1[0], h2[0] = 1, 2
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.RecordDataTransfer(7, h1, 2, []byte("a")))
	must(tr.RecordDataTransfer(7, h1, 2, []byte("a"))) // redelivery
	must(tr.RecordDataTransfer(7, h1, 3, []byte("b")))
	must(tr.RecordDataTransfer(7, h2, 1, []byte("c")))
	must(tr.RecordDataTransfer(8, h2, 9, []byte("c")))
	got, err := tr.Epoch(7)
	must(err)
	if got[h1] != 5 || got[h2] != 1 || len(got) != 2 {
		t.Fatalf("epoch 7: %v", got)
	}
	// A late record for the older epoch, after the newer one started, and a
	// second Transfers over the same store (a restart: nothing cached) both
	// add to the stored totals.
	must(tr.RecordDataTransfer(7, h1, 10, []byte("d")))
	tr2 := NewTransfers(sp)
	must(tr2.RecordDataTransfer(8, h2, 1, []byte("e")))
	must(tr2.RecordDataTransfer(8, h2, 1, []byte("f")))
	must(tr2.RecordDataTransfer(7, h2, 4, []byte("g")))
	got7, err := tr2.Epoch(7)
	must(err)
	got8, err := tr2.Epoch(8)
	must(err)
	if got7[h1] != 15 || got7[h2] != 5 || got8[h2] != 11 {
		t.Fatalf("epoch 7: %v, epoch 8: %v", got7, got8)
	}
}
