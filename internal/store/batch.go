package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch collects writes to one Space and applies them atomically: after a
// crash either all of them are visible or none. A Batch is used by one
// goroutine and committed once.
type Batch struct {
	s    *Space
	b    *pebble.Batch
	done bool
}

// NewBatch starts an empty batch on the space.
func (s *Space) NewBatch() (*Batch, error) {
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	if s.db.closed {
		return nil, ErrClosed
	}
	return &Batch{s: s, b: s.db.pdb.NewBatch()}, nil
}

// Set records key = value.
func (b *Batch) Set(key, value []byte) error {
	if b.done {
		return fmt.Errorf("store: batch already committed or closed")
	}
	var kb [128]byte // Pebble copies the key into the batch
	if err := b.b.Set(b.s.appendKey(kb[:0], key), value, nil); err != nil {
		return fmt.Errorf("store: batch set: %w", err)
	}
	return nil
}

// Delete records the removal of key.
func (b *Batch) Delete(key []byte) error {
	if b.done {
		return fmt.Errorf("store: batch already committed or closed")
	}
	var kb [128]byte
	if err := b.b.Delete(b.s.appendKey(kb[:0], key), nil); err != nil {
		return fmt.Errorf("store: batch delete: %w", err)
	}
	return nil
}

// DeleteRange records the removal of every key in [start, end): one range
// tombstone, however many keys it covers, so deleting a span of keys costs
// neither a read nor a write per key.
func (b *Batch) DeleteRange(start, end []byte) error {
	if b.done {
		return fmt.Errorf("store: batch already committed or closed")
	}
	var sb, eb [128]byte
	if err := b.b.DeleteRange(b.s.appendKey(sb[:0], start), b.s.appendKey(eb[:0], end), nil); err != nil {
		return fmt.Errorf("store: batch delete range: %w", err)
	}
	return nil
}

// Len returns the number of writes recorded.
func (b *Batch) Len() int { return int(b.b.Count()) }

// Commit applies the batch atomically and releases it. With sync the call
// returns once the batch is durable; use sync wherever the caller acknowledges
// durability to someone else (a PUBACK, an HTTP 200, a ledger entry).
func (b *Batch) Commit(sync bool) error {
	if b.done {
		return fmt.Errorf("store: batch already committed or closed")
	}
	b.s.db.mu.RLock()
	defer b.s.db.mu.RUnlock()
	if b.s.db.closed {
		return ErrClosed
	}
	b.done = true
	err := b.b.Commit(writeOpts(sync))
	_ = b.b.Close()
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// CommitSync is Commit(true). It is the group-commit path: call it from as
// many goroutines as have work; Pebble's commit pipeline queues concurrent
// synced batches behind one WAL write and one fsync, so throughput grows with
// the number of committers while each caller still waits for durability.
func (b *Batch) CommitSync() error { return b.Commit(true) }

// Close discards an uncommitted batch. It is a no-op after Commit or a previous Close.
func (b *Batch) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if err := b.b.Close(); err != nil {
		return fmt.Errorf("store: batch close: %w", err)
	}
	return nil
}
