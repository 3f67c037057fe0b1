package store

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Space is the part of a DB under one key prefix. Every key passed to or
// returned from a Space is relative to that prefix; a Space can neither read
// nor write keys outside it. Spaces are cheap values and safe for concurrent use.
type Space struct {
	db     *DB
	prefix []byte
}

// Prefix returns the nested Space sub inside s (sub must end with '/').
func (s *Space) Prefix(sub string) *Space {
	mustPrefix(sub)
	return &Space{db: s.db, prefix: s.key([]byte(sub))}
}

// Name returns the full prefix of the space.
func (s *Space) Name() string { return string(s.prefix) }

// key returns prefix ‖ k in a fresh slice.
func (s *Space) key(k []byte) []byte {
	return s.appendKey(make([]byte, 0, len(s.prefix)+len(k)), k)
}

// appendKey appends the prefixed key to dst (a caller's stack buffer when
// Pebble copies the key, as a batch does).
func (s *Space) appendKey(dst, k []byte) []byte {
	return append(append(dst, s.prefix...), k...)
}

// Get returns a copy of the value stored at key, or ErrNotFound.
func (s *Space) Get(key []byte) ([]byte, error) {
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	if s.db.closed {
		return nil, ErrClosed
	}
	v, closer, err := s.db.pdb.Get(s.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	out := append([]byte(nil), v...)
	if err := closer.Close(); err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	return out, nil
}

// Set stores value at key; with sync it returns once the write is durable.
func (s *Space) Set(key, value []byte, sync bool) error {
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	if s.db.closed {
		return ErrClosed
	}
	if err := s.db.pdb.Set(s.key(key), value, writeOpts(sync)); err != nil {
		return fmt.Errorf("store: set: %w", err)
	}
	return nil
}

// Delete removes key (absent keys are not an error); with sync it returns once durable.
func (s *Space) Delete(key []byte, sync bool) error {
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	if s.db.closed {
		return ErrClosed
	}
	if err := s.db.pdb.Delete(s.key(key), writeOpts(sync)); err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	return nil
}

// Iterate calls fn for every key that starts with prefix (relative to the
// space), in ascending key order. k and v are valid only during the call;
// copy them to keep them. An error from fn stops the iteration and is returned.
func (s *Space) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	lower := s.key(prefix)
	it, err := s.newIter(lower, successor(lower))
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("store: iterate: %w", err)
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

// NewIter returns an iterator over the keys k of the space with
// lower <= k < upper; a nil bound means the start or end of the space.
// The iterator must be closed, and before the DB is closed.
func (s *Space) NewIter(lower, upper []byte) (*Iter, error) {
	lo := s.key(lower)
	var hi []byte
	if upper == nil {
		hi = successor(s.prefix)
	} else {
		hi = s.key(upper)
	}
	return s.newIter(lo, hi)
}

func (s *Space) newIter(lower, upper []byte) (*Iter, error) {
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	if s.db.closed {
		return nil, ErrClosed
	}
	it, err := s.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("store: new iterator: %w", err)
	}
	return &Iter{it: it, prefix: s.prefix}, nil
}

// successor returns the smallest key greater than every key starting with p,
// or nil when there is none (p is all 0xff).
func successor(p []byte) []byte {
	out := append([]byte(nil), p...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] != 0xff {
			out[i]++
			return out[:i+1]
		}
	}
	return nil
}

// Iter walks a range of one Space in key order. Its keys are relative to the space.
type Iter struct {
	it     *pebble.Iterator
	prefix []byte
	closed bool
}

// First moves to the first key in range and reports whether there is one.
func (i *Iter) First() bool { return i.it.First() }

// Last moves to the last key in range and reports whether there is one.
func (i *Iter) Last() bool { return i.it.Last() }

// Next moves to the next key and reports whether there is one.
func (i *Iter) Next() bool { return i.it.Next() }

// Prev moves to the previous key and reports whether there is one.
func (i *Iter) Prev() bool { return i.it.Prev() }

// SeekGE moves to the first key >= key (relative to the space).
func (i *Iter) SeekGE(key []byte) bool {
	full := make([]byte, 0, len(i.prefix)+len(key))
	full = append(full, i.prefix...)
	return i.it.SeekGE(append(full, key...))
}

// Valid reports whether the iterator is positioned at a key.
func (i *Iter) Valid() bool { return i.it.Valid() }

// Key returns the current key relative to the space; valid until the next move.
func (i *Iter) Key() []byte { return i.it.Key()[len(i.prefix):] }

// Value returns the current value; valid until the next move.
func (i *Iter) Value() ([]byte, error) {
	v, err := i.it.ValueAndErr()
	if err != nil {
		return nil, fmt.Errorf("store: value: %w", err)
	}
	return v, nil
}

// Close releases the iterator and returns any error met while iterating.
// A second Close returns nil.
func (i *Iter) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	if err := i.it.Close(); err != nil {
		return fmt.Errorf("store: iterator: %w", err)
	}
	return nil
}
