package hotspot

import (
	mrand "math/rand/v2"
	"testing"
	"time"
)

func TestBeaconScheduleOnePerBucket(t *testing.T) {
	s := newBeaconSchedule(6*time.Hour, mrand.New(mrand.NewPCG(1, 2)))
	now := time.Date(2026, 11, 24, 5, 59, 0, 0, time.UTC) // one minute before the bucket ends
	var last time.Time
	seen := map[time.Time]bool{}
	for i := 0; i < 200; i++ {
		at := s.next(now, last)
		if at.Before(now) {
			t.Fatalf("beacon at %s before now %s", at, now)
		}
		b := s.bucket(at)
		if seen[b] {
			t.Fatalf("two beacons in bucket %s", b)
		}
		if !last.IsZero() && !b.After(last) {
			t.Fatalf("bucket %s not after last %s", b, last)
		}
		if off := at.Sub(b); off > 6*time.Hour*9/10 {
			t.Fatalf("offset %s in the last tenth of the bucket", off)
		}
		seen[b] = true
		last = b
		now = at.Add(time.Second)
	}
	if len(seen) != 200 {
		t.Fatalf("%d buckets", len(seen))
	}
}

func TestBeaconScheduleLateJoinStaysInBucket(t *testing.T) {
	s := newBeaconSchedule(time.Hour, mrand.New(mrand.NewPCG(3, 4)))
	now := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
	for i := 0; i < 100; i++ {
		at := s.next(now, time.Time{})
		if at.Before(now) || s.bucket(at) != s.bucket(now) {
			t.Fatalf("late join: beacon at %s for now %s", at, now)
		}
	}
}
