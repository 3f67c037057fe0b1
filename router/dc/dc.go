// Package dc holds the data-credit interface the router bills through and a
// Pebble-backed implementation used until the ledger provides its own
// (Store): payer balances, debits that are idempotent and record, in the
// same atomic write, the data transfer the purchased copy earns its
// hotspot, and top-up notifications.
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

// ErrNotRecorded is wrapped by a Debit that charged but whose data-transfer
// record the ledger refused (say, for an epoch it has closed): the charge
// stands, and the hotspot is not paid for that copy.
var ErrNotRecorded = errors.New("dc: charged, data transfer not recorded")

// Charge is one purchased copy to bill: Amount DC from Payer, once per Key,
// and the same Amount added to Hotspot's data-transfer total of Epoch.
type Charge struct {
	Payer   string
	Amount  uint64
	Key     []byte // idempotency key, e.g. packet hash ‖ hotspot
	Epoch   uint64 // reward epoch of the purchase
	Hotspot identity.PublicKey
}

// Ledger is what the router needs of data credits; the ledger implements it.
type Ledger interface {
	// Balance returns the payer's balance in DC.
	Balance(payer string) uint64
	// Debit takes c.Amount DC from c.Payer once per c.Key and records the
	// copy's data transfer in the same atomic write, so a crash keeps both
	// or neither. A repeated key returns charged=false and no error,
	// whatever the balance. A balance below the amount returns
	// ErrInsufficientDC; charged=true with an error wrapping ErrNotRecorded
	// means the debit stands without its record.
	Debit(c Charge) (charged bool, err error)
	// Subscribe registers fn, called with the payer after every top-up.
	Subscribe(fn func(payer string))
}

// Cost is the price of one purchased copy of a payload of n bytes:
// ceil(max(n, 24) / 24) DC (DESIGN.md §6).
func Cost(n int) uint64 {
	if n < 24 {
		n = 24
	}
	return uint64((n + 23) / 24)
}

// Store is a Ledger over a store.Space: "bal/{payer}" → uint64 balance,
// "debit/{payer}\x00{key}" → amount for idempotency, and
// "xfer/{epoch}{hotspot}" → the DC of the copies the hotspot sold in the
// epoch. Debits are written without fsync (a crash may forget the last few
// debits with their records, which undercharges and never double-charges);
// credits are synced. Safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	space *store.Space
	bal   map[string]uint64 // cache of loaded balances
	subs  []func(string)
	// xfer caches the transfer totals of the latest epoch charged, so that
	// a debit costs one lookup (its idempotency key), not two; this type is
	// the only writer of those keys.
	epoch uint64
	xfer  map[identity.PublicKey]uint64
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

func xferPrefix(epoch uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("xfer/"), epoch)
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

// transferLocked returns the hotspot's stored total of epoch.
func (s *Store) transferLocked(epoch uint64, hotspot identity.PublicKey) (uint64, error) {
	if epoch == s.epoch {
		if v, ok := s.xfer[hotspot]; ok {
			return v, nil
		}
	}
	v, err := s.space.Get(append(xferPrefix(epoch), hotspot[:]...))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("dc: transfer: %w", err)
	case len(v) != 8:
		return 0, fmt.Errorf("dc: stored transfer of %s has %d bytes", hotspot, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Balance returns the payer's balance (0 when unknown or unreadable).
func (s *Store) Balance(payer string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _ := s.balanceLocked(payer)
	return v
}

// Debit implements Ledger: one lookup (the idempotency key) and one batch
// of three writes (balance, key, transfer total).
func (s *Store) Debit(c Charge) (bool, error) {
	if c.Payer == "" || len(c.Key) == 0 {
		return false, ErrBadKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dk := debitKey(c.Payer, c.Key)
	if _, err := s.space.Get(dk); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	bal, err := s.balanceLocked(c.Payer)
	if err != nil {
		return false, err
	}
	if bal < c.Amount {
		return false, fmt.Errorf("%w: payer %q has %d, needs %d", ErrInsufficientDC, c.Payer, bal, c.Amount)
	}
	total, err := s.transferLocked(c.Epoch, c.Hotspot)
	if err != nil {
		return false, err
	}
	b, err := s.space.NewBatch()
	if err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	defer b.Close()
	var v [8]byte
	nb := bal - c.Amount
	binary.BigEndian.PutUint64(v[:], nb)
	if err := b.Set(balKey(c.Payer), v[:]); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	binary.BigEndian.PutUint64(v[:], c.Amount)
	if err := b.Set(dk, v[:]); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	binary.BigEndian.PutUint64(v[:], total+c.Amount)
	if err := b.Set(append(xferPrefix(c.Epoch), c.Hotspot[:]...), v[:]); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	if err := b.Commit(false); err != nil {
		return false, fmt.Errorf("dc: debit: %w", err)
	}
	s.bal[c.Payer] = nb
	switch {
	case s.xfer == nil || c.Epoch > s.epoch: // a new epoch: older totals are no longer cached
		s.epoch, s.xfer = c.Epoch, map[identity.PublicKey]uint64{}
		fallthrough
	case c.Epoch == s.epoch:
		s.xfer[c.Hotspot] = total + c.Amount
	}
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

// Transfers returns the DC each hotspot sold in an epoch.
func (s *Store) Transfers(epoch uint64) (map[identity.PublicKey]uint64, error) {
	out := map[identity.PublicKey]uint64{}
	p := xferPrefix(epoch)
	err := s.space.Iterate(p, func(k, v []byte) error {
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
