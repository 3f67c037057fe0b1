package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Journal layout in the KV:
//
//	"j/" ‖ height (8 bytes big-endian) → height (8) ‖ prev hash (32) ‖ hash (32) ‖ op bytes
//
// hash = SHA-256(prev ‖ height (8 bytes big-endian) ‖ op bytes); the prev hash
// of height 0 (genesis) is 32 zero bytes. Entries are only appended; the
// state is whatever replaying them in height order yields.
var journalPrefix = []byte("j/")

const journalHeader = 8 + 2*sha256.Size

func journalKey(h uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), journalPrefix...), h)
}

// EntryHash returns the hash of the journal entry at height after prev.
func EntryHash(prev [32]byte, height uint64, op []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], height)
	h.Write(hb[:])
	h.Write(op)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// journal appends to and replays the hash-chained journal.
type journal struct {
	kv     KV
	next   uint64   // height of the next entry
	head   [32]byte // hash of the last entry (zero before genesis)
	faults func(step string) error
}

// replay walks the journal, checking heights and the hash chain, and calls fn per entry.
func (j *journal) replay(fn func(height uint64, op []byte) error) error {
	var prev [32]byte
	next := uint64(0)
	err := j.kv.Iterate(journalPrefix, func(k, v []byte) error {
		if len(k) != len(journalPrefix)+8 || len(v) < journalHeader {
			return fmt.Errorf("%w: entry %x", ErrCorruptJournal, k)
		}
		h := binary.BigEndian.Uint64(k[len(journalPrefix):])
		if h != next || binary.BigEndian.Uint64(v) != h {
			return fmt.Errorf("%w: height %d where %d expected", ErrCorruptJournal, h, next)
		}
		if !bytes.Equal(v[8:40], prev[:]) {
			return fmt.Errorf("%w: broken chain at height %d", ErrCorruptJournal, h)
		}
		op := v[journalHeader:]
		sum := EntryHash(prev, h, op)
		if !bytes.Equal(v[40:72], sum[:]) {
			return fmt.Errorf("%w: bad hash at height %d", ErrCorruptJournal, h)
		}
		if err := fn(h, op); err != nil {
			return fmt.Errorf("%w: replay height %d: %w", ErrCorruptJournal, h, err)
		}
		prev = sum
		next++
		return nil
	})
	if err != nil {
		return err
	}
	j.next, j.head = next, prev
	return nil
}

// append writes op at the next height, with the extra writes of the same
// batch, durably. On error nothing is written.
func (j *journal) append(op []byte, extra func(b KVBatch) error) (uint64, error) {
	h := j.next
	sum := EntryHash(j.head, h, op)
	rec := make([]byte, 0, journalHeader+len(op))
	rec = binary.BigEndian.AppendUint64(rec, h)
	rec = append(rec, j.head[:]...)
	rec = append(rec, sum[:]...)
	rec = append(rec, op...)
	b, err := j.kv.NewBatch()
	if err != nil {
		return 0, err
	}
	defer func() { _ = b.Close() }()
	if err := b.Set(journalKey(h), rec); err != nil {
		return 0, err
	}
	if extra != nil {
		if err := extra(b); err != nil {
			return 0, err
		}
	}
	if j.faults != nil {
		if err := j.faults("journal_commit"); err != nil {
			return 0, err
		}
	}
	if err := b.Commit(true); err != nil {
		return 0, err
	}
	j.next, j.head = h+1, sum
	return h, nil
}

// get returns the op bytes at height h.
func (j *journal) get(h uint64) ([]byte, error) {
	v, err := j.kv.Get(journalKey(h))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: no entry at height %d", ErrCorruptJournal, h)
		}
		return nil, err
	}
	if len(v) < journalHeader {
		return nil, fmt.Errorf("%w: short entry at height %d", ErrCorruptJournal, h)
	}
	return v[journalHeader:], nil
}
