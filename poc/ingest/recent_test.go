package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"
)

func hashOf(i int) [32]byte { return sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) }

// TestRecentFilter: never a false negative within the TTL, few false
// positives, a hash forgotten two rotations later, and nothing claimed
// absent before the persisted set is loaded.
func TestRecentFilter(t *testing.T) {
	const ttl = time.Hour
	r := newRecent(1<<16, ttl)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if !r.mayContain(hashOf(1)) {
		t.Fatal("an unarmed filter claimed a hash absent")
	}
	for i := range 2000 {
		r.add(hashOf(i), t0.Add(time.Duration(i)*time.Second))
	}
	r.armed.Store(true)
	for i := range 2000 {
		if !r.mayContain(hashOf(i)) {
			t.Fatalf("hash %d added and missed", i)
		}
	}
	fp := 0
	for i := 10_000; i < 20_000; i++ {
		if r.mayContain(hashOf(i)) {
			fp++
		}
	}
	// 2000 hashes, 4 bits each, in 65,536 bits: about (1−e^(−0.122))⁴ ≈ 0.013 %.
	if fp > 20 {
		t.Errorf("%d false positives in 10,000", fp)
	}
	// One rotation later (an add after the TTL) the hashes are still there...
	r.add(hashOf(-1), t0.Add(ttl+time.Hour))
	if !r.mayContain(hashOf(5)) {
		t.Fatal("hash lost at the first rotation")
	}
	// ... and at the second they are gone.
	r.add(hashOf(-2), t0.Add(3*ttl))
	gone := 0
	for i := range 2000 {
		if !r.mayContain(hashOf(i)) {
			gone++
		}
	}
	if gone < 1990 || !r.mayContain(hashOf(-2)) || !r.mayContain(hashOf(-1)) {
		t.Errorf("after two rotations %d of 2000 forgotten; the recent ones kept: %v %v", gone, r.mayContain(hashOf(-1)), r.mayContain(hashOf(-2)))
	}
}
