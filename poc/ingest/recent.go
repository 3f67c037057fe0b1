package ingest

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// recent is an in-memory filter of the report hashes admitted within the
// dedup TTL, in front of the persisted dedup set: a hash it has never seen
// skips the store lookup; one it may have seen (or any hash before the
// filter is armed) is looked up as before, so false positives cost a read
// and there are no false negatives.
//
// It is a Bloom filter in two generations of bits each: a hash goes into
// the current one, which becomes the previous one at the next rotation
// (every ttl on the pipeline's clock) and is cleared at the one after, so
// a hash stays at least ttl. The four bit indices are taken from the hash
// itself (SHA-256 needs no second hashing).
type recent struct {
	mu        sync.Mutex
	cur, prev []uint64
	mask      uint64
	ttl       time.Duration
	rotated   time.Time
	armed     atomic.Bool // the persisted set has been loaded into it
}

// newRecent returns a filter of bits bits per generation (a power of two).
func newRecent(bits int, ttl time.Duration) *recent {
	return &recent{cur: make([]uint64, bits/64), prev: make([]uint64, bits/64), mask: uint64(bits - 1), ttl: ttl}
}

func (r *recent) index(h *[32]byte, i int) (word int, bit uint64) {
	x := uint64(binary.LittleEndian.Uint32(h[4*i:])) | uint64(binary.LittleEndian.Uint32(h[16+4*i:]))<<32
	x &= r.mask
	return int(x / 64), 1 << (x % 64)
}

// add records h at now, rotating the generations when ttl has passed.
func (r *recent) add(h [32]byte, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rotated.IsZero() {
		r.rotated = now
	} else if now.Sub(r.rotated) >= r.ttl {
		r.prev, r.cur = r.cur, r.prev
		clear(r.cur)
		r.rotated = now
	}
	for i := range 4 {
		w, b := r.index(&h, i)
		r.cur[w] |= b
	}
}

// mayContain reports whether h may have been added (always true until the
// filter is armed).
func (r *recent) mayContain(h [32]byte) bool {
	if !r.armed.Load() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	inCur, inPrev := true, true
	for i := range 4 {
		w, b := r.index(&h, i)
		inCur = inCur && r.cur[w]&b != 0
		inPrev = inPrev && r.prev[w]&b != 0
	}
	return inCur || inPrev
}
