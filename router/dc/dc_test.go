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
	if _, err := s.Debit(Charge{Payer: "p", Amount: 1, Key: []byte("k0")}); !errors.Is(err, ErrInsufficientDC) {
		t.Fatalf("empty balance: %v", err)
	}
	if err := s.Credit("p", 5); err != nil {
		t.Fatal(err)
	}
	if len(topped) != 1 || topped[0] != "p" {
		t.Fatalf("top-up notifications %v", topped)
	}
	ok, err := s.Debit(Charge{Payer: "p", Amount: 3, Key: []byte("k1")})
	if !ok || err != nil {
		t.Fatalf("first debit %v %v", ok, err)
	}
	ok, err = s.Debit(Charge{Payer: "p", Amount: 3, Key: []byte("k1")})
	if ok || err != nil || s.Balance("p") != 2 {
		t.Fatalf("redelivered debit charged=%v err=%v balance=%d", ok, err, s.Balance("p"))
	}
	if _, err := s.Debit(Charge{Payer: "p", Amount: 3, Key: []byte("k2")}); !errors.Is(err, ErrInsufficientDC) {
		t.Fatalf("overdraft: %v", err)
	}
	// A fresh Store over the same space sees the balance and the key.
	s2 := NewStore(sp)
	if s2.Balance("p") != 2 {
		t.Fatalf("reloaded balance %d", s2.Balance("p"))
	}
	if ok, _ := s2.Debit(Charge{Payer: "p", Amount: 1, Key: []byte("k1")}); ok {
		t.Fatal("idempotency key lost on reload")
	}
	if _, err := s.Debit(Charge{Payer: "", Amount: 1, Key: []byte("k")}); !errors.Is(err, ErrBadKey) {
		t.Fatal("empty payer accepted")
	}
}

// TestDebitRecordsTransfers: every charged copy adds to its hotspot's epoch
// total in the same write; a redelivered key adds nothing, a refused debit
// records nothing, and a fresh Store (a restart: nothing cached) adds to the
// stored totals, for the current epoch and for a late copy of an older one.
func TestDebitRecordsTransfers(t *testing.T) {
	_, sp := openSpace(t)
	s := NewStore(sp)
	if err := s.Credit("p", 100); err != nil {
		t.Fatal(err)
	}
	var h1, h2 identity.PublicKey
	h1[0], h2[0] = 1, 2
	debit := func(s *Store, epoch uint64, h identity.PublicKey, dc uint64, key string, want bool) {
		t.Helper()
		ok, err := s.Debit(Charge{Payer: "p", Amount: dc, Key: []byte(key), Epoch: epoch, Hotspot: h})
		if err != nil || ok != want {
			t.Fatalf("debit %s: charged=%v err=%v, want charged=%v", key, ok, err, want)
		}
	}
	debit(s, 7, h1, 2, "a", true)
	debit(s, 7, h1, 2, "a", false) // redelivery
	debit(s, 7, h1, 3, "b", true)
	debit(s, 7, h2, 1, "c", true)
	debit(s, 8, h2, 9, "d", true)
	if _, err := s.Debit(Charge{Payer: "p", Amount: 1000, Key: []byte("x"), Epoch: 8, Hotspot: h1}); !errors.Is(err, ErrInsufficientDC) {
		t.Fatalf("overdraft: %v", err)
	}
	got, err := s.Transfers(7)
	if err != nil {
		t.Fatal(err)
	}
	if got[h1] != 5 || got[h2] != 1 || len(got) != 2 {
		t.Fatalf("epoch 7: %v", got)
	}
	debit(s, 7, h1, 10, "e", true) // late copy of epoch 7 after epoch 8 began
	s2 := NewStore(sp)
	debit(s2, 8, h2, 1, "f", true)
	debit(s2, 8, h2, 1, "g", true)
	debit(s2, 7, h2, 4, "h", true)
	debit(s2, 8, h2, 1, "d", false) // key from before the restart
	got7, err := s2.Transfers(7)
	if err != nil {
		t.Fatal(err)
	}
	got8, err := s2.Transfers(8)
	if err != nil {
		t.Fatal(err)
	}
	if got7[h1] != 15 || got7[h2] != 5 || got8[h2] != 11 || len(got8) != 1 {
		t.Fatalf("epoch 7: %v, epoch 8: %v", got7, got8)
	}
	if b := s2.Balance("p"); b != 100-2-3-1-9-10-1-1-4 {
		t.Fatalf("balance %d", b)
	}
}
