package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/hexnet/hexnet/internal/store"
)

// KV is the small key-value interface the ledger keeps its journal, reward
// inputs and debit log in. SpaceKV adapts a store.Space (Pebble); MemKV is an
// in-memory KV for tests and benchmarks.
type KV interface {
	// Get returns the value at key, or an error wrapping ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Set stores value at key; with sync it returns once durable.
	Set(key, value []byte, sync bool) error
	// Iterate calls fn for each key with the prefix in ascending order.
	Iterate(prefix []byte, fn func(k, v []byte) error) error
	// NewBatch starts an atomic batch of writes.
	NewBatch() (KVBatch, error)
}

// KVBatch is an atomic group of writes to a KV.
type KVBatch interface {
	Set(key, value []byte) error
	Delete(key []byte) error
	Commit(sync bool) error
	Close() error
}

// ErrNotFound is wrapped by KV.Get for an absent key.
var ErrNotFound = errors.New("ledger: key not found")

// SpaceKV adapts a store.Space to KV.
func SpaceKV(s *store.Space) KV { return spaceKV{s} }

type spaceKV struct{ s *store.Space }

func (k spaceKV) Get(key []byte) ([]byte, error) {
	v, err := k.s.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return v, err
}

func (k spaceKV) Set(key, value []byte, sync bool) error { return k.s.Set(key, value, sync) }

func (k spaceKV) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	return k.s.Iterate(prefix, fn)
}

func (k spaceKV) NewBatch() (KVBatch, error) {
	b, err := k.s.NewBatch()
	if err != nil {
		return nil, err
	}
	return b, nil
}

// MemKV is an in-memory KV for tests and benchmarks.
type MemKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemKV returns an empty in-memory KV.
func NewMemKV() *MemKV { return &MemKV{m: map[string][]byte{}} }

// Get implements KV.
func (m *MemKV) Get(key []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// Set implements KV.
func (m *MemKV) Set(key, value []byte, _ bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[string(key)] = append([]byte(nil), value...)
	return nil
}

// Iterate implements KV (it sorts the matching keys on every call).
func (m *MemKV) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	m.mu.Lock()
	var keys []string
	for k := range m.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		m.mu.Lock()
		v, ok := m.m[k]
		m.mu.Unlock()
		if !ok {
			continue
		}
		if err := fn([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// NewBatch implements KV.
func (m *MemKV) NewBatch() (KVBatch, error) { return &memBatch{m: m}, nil }

type memOp struct {
	key, value []byte
	del        bool
}

type memBatch struct {
	m    *MemKV
	ops  []memOp
	done bool
}

func (b *memBatch) Set(key, value []byte) error {
	b.ops = append(b.ops, memOp{key: append([]byte(nil), key...), value: append([]byte(nil), value...)})
	return nil
}

func (b *memBatch) Delete(key []byte) error {
	b.ops = append(b.ops, memOp{key: append([]byte(nil), key...), del: true})
	return nil
}

func (b *memBatch) Commit(bool) error {
	if b.done {
		return fmt.Errorf("ledger: batch already committed")
	}
	b.done = true
	b.m.mu.Lock()
	defer b.m.mu.Unlock()
	for _, o := range b.ops {
		if o.del {
			delete(b.m.m, string(o.key))
		} else {
			b.m.m[string(o.key)] = o.value
		}
	}
	return nil
}

func (b *memBatch) Close() error { b.done = true; return nil }
