// Package dc holds the data-credit interfaces the router bills through and a
// Pebble-backed implementation used until the ledger provides its own:
// payer balances with idempotent debits and top-up notifications (Store), and
// per-epoch data-transfer records of the copies each hotspot sold (Transfers).
package dc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
)

// ErrInsufficientDC is returned by Debit when the payer's balance is below the amount.
var ErrInsufficientDC = errors.New("dc: insufficient data credits")

// ErrBadKey is returned for an empty payer or idempotency key.
var ErrBadKey = errors.New("dc: empty payer or idempotency key")

// Ledger is what the router needs of data credits; the ledger implements it.
type Ledger interface {
	// Balance returns the payer's balance in DC.
	Balance(payer string) uint64
	// Debit takes amount DC from payer once per idemKey: a repeated key
	// returns charged=false and no error, whatever the balance. A balance
	// below amount returns ErrInsufficientDC.
	Debit(payer string, amount uint64, idemKey []byte) (charged bool, err error)
	// Subscribe registers fn, called with the payer after every top-up.
	Subscribe(fn func(payer string))
}

// Rewards records the DC of the copies each hotspot sold, per epoch, for
// data-transfer rewards; the ledger implements it.
type Rewards interface {
	// RecordDataTransfer adds dc to the hotspot's epoch total once per idemKey.
	RecordDataTransfer(epoch uint64, hotspot identity.PublicKey, dc uint64, idemKey []byte) error
}

// Cost is the price of one purchased copy of a payload of n bytes:
// ceil(max(n, 24) / 24) DC (DESIGN.md §6).
func Cost(n int) uint64 {
	if n < 24 {
		n = 24
	}
	return uint64((n + 23) / 24)
}

// Store is a Ledger over a store.Space: "bal/{payer}" → uint64 balance and
// "debit/{payer}\x00{idemKey}" → amount for idempotency. Debits are written
// without fsync (a crash may forget the last few debits, which undercharges
// and never double-charges); credits are synced. Safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	space *store.Space
	bal   map[string]uint64 // cache of loaded balances
	subs  []func(string)
}

var _ Ledger = (*Store)(nil)

// NewStore returns a Store over space.
func NewStore(space *store.Space) *Store {
	return &Store{space: space, bal: map[string]uint64{}}
}

func balKey(payer string) []byte { return []byte("bal/" + payer) }

func debitKey(payer string, idem []byte) []byte {
	k := make([]byte, 0, 7+len(payer)+len(idem))
	k = append(k, "debit/"...)
	k = append(k, payer...)
	k = append(k, 0)
	return append(k, idem...)
}

func (s *Store) balanceLocked(payer string) (uint64, error) {
	if v, ok := s.bal[payer]; ok {
		return v, nil
	}
	b, err := s.space.Get(balKey(payer))
	if errors.Is(err, store.ErrNotFound) {
		s.bal[payer] = 0
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("dc: balance: %w", err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("dc: stored balance of %q has %d bytes", payer, len(b))
	}
	v := binary.BigEndian.Uint64(b)
	s.bal[payer] = v
	return v, nil
}

// Balance returns the payer's balance (0 when unknown or unreadable).
func (s *Store) Balance(payer string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _ := s.balanceLocked(payer)
	return v
}

// Debit implements Ledger.
func (s *Store) Debit(payer string, amount uint64, idemKey []byte) (bool, error) {
	if payer == "" || len(idemKey) == 0 {
		return false, ErrBadKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dk := debitKey(payer, idemKey)
	if _, err := s.space.Get(dk); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	bal, err := s.balanceLocked(payer)
	if err != nil {
		return false, err
	}
	if bal < amount {
		return false, fmt.Errorf("%w: payer %q has %d, needs %d", ErrInsufficientDC, payer, bal, amount)
	}
	b, err := s.space.NewBatch()
	if err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	defer b.Close()
	nb := bal - amount
	if err := b.Set(balKey(payer), binary.BigEndian.AppendUint64(nil, nb)); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	if err := b.Set(dk, binary.BigEndian.AppendUint64(nil, amount)); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	if err := b.Commit(false); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	s.bal[payer] = nb
	return true, nil
}

// Credit tops up payer by amount (durably) and then notifies subscribers.
func (s *Store) Credit(payer string, amount uint64) error {
	if payer == "" {
		return ErrBadKey
	}
	s.mu.Lock()
	bal, err := s.balanceLocked(payer)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	nb := bal + amount
	if nb < bal {
		s.mu.Unlock()
		return fmt.Errorf("dc: balance of %q would overflow", payer)
	}
	if err := s.space.Set(balKey(payer), binary.BigEndian.AppendUint64(nil, nb), true); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("dc: credit: %w", err)
	}
	s.bal[payer] = nb
	subs := append([]func(string){}, s.subs...)
	s.mu.Unlock()
	for _, fn := range subs {
		fn(payer)
	}
	return nil
}

// Subscribe implements Ledger.
func (s *Store) Subscribe(fn func(payer string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
}

// Transfers is a Rewards over a store.Space: "xfer/{epoch}/{hotspot}" → total
// DC and "xferkey/{epoch}/{idemKey}" for idempotency. Safe for concurrent use.
type Transfers struct {
	mu    sync.Mutex
	space *store.Space
	// totals caches the totals of the latest epoch recorded, so that a
	// record costs one lookup (its idempotency key), not two; this type is
	// the only writer of those keys.
	epoch  uint64
	totals map[identity.PublicKey]uint64
}

var _ Rewards = (*Transfers)(nil)

// NewTransfers returns a Transfers over space.
func NewTransfers(space *store.Space) *Transfers { return &Transfers{space: space} }

func epochPrefix(kind string, epoch uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(kind+"/"), epoch)
}

// RecordDataTransfer implements Rewards.
func (t *Transfers) RecordDataTransfer(epoch uint64, hotspot identity.PublicKey, dc uint64, idemKey []byte) error {
	if len(idemKey) == 0 {
		return ErrBadKey
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ik := append(epochPrefix("xferkey", epoch), idemKey...)
	if _, err := t.space.Get(ik); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("dc: transfer: %w", err)
	}
	hk := append(epochPrefix("xfer", epoch), hotspot[:]...)
	total, cached := t.totals[hotspot]
	if !cached || epoch != t.epoch {
		total = 0
		if v, err := t.space.Get(hk); err == nil && len(v) == 8 {
			total = binary.BigEndian.Uint64(v)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("dc: transfer: %w", err)
		}
	}
	b, err := t.space.NewBatch()
	if err != nil {
		return fmt.Errorf("dc: transfer: %w", err)
	}
	defer b.Close()
	if err := b.Set(hk, binary.BigEndian.AppendUint64(nil, total+dc)); err != nil {
		return fmt.Errorf("dc: transfer: %w", err)
	}
	if err := b.Set(ik, nil); err != nil {
		return fmt.Errorf("dc: transfer: %w", err)
	}
	if err := b.Commit(false); err != nil {
		return fmt.Errorf("dc: transfer: %w", err)
	}
	switch {
	case t.totals == nil || epoch > t.epoch: // a new epoch: older totals are no longer written
		t.epoch, t.totals = epoch, map[identity.PublicKey]uint64{}
		fallthrough
	case epoch == t.epoch:
		t.totals[hotspot] = total + dc
	}
	return nil
}

// Epoch returns the DC each hotspot sold in an epoch.
func (t *Transfers) Epoch(epoch uint64) (map[identity.PublicKey]uint64, error) {
	out := map[identity.PublicKey]uint64{}
	p := epochPrefix("xfer", epoch)
	err := t.space.Iterate(p, func(k, v []byte) error {
		if len(k) != len(p)+identity.PublicKeySize || len(v) != 8 {
			return nil
		}
		var pk identity.PublicKey
		copy(pk[:], k[len(p):])
		out[pk] = binary.BigEndian.Uint64(v)
		return nil
	})
	return out, err
}
