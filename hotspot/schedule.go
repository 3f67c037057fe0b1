package hotspot

import (
	mrand "math/rand/v2"
	"time"
)

// beaconSchedule picks one beacon time per UTC-aligned bucket of a fixed
// interval, at a random offset inside the bucket (kept away from the bucket's
// last tenth so that report latency cannot push it into the next bucket).
type beaconSchedule struct {
	interval time.Duration
	rng      *mrand.Rand
}

func newBeaconSchedule(interval time.Duration, rng *mrand.Rand) *beaconSchedule {
	return &beaconSchedule{interval: interval, rng: rng}
}

// bucket returns the start of the UTC-aligned bucket holding t.
func (s *beaconSchedule) bucket(t time.Time) time.Time {
	return t.UTC().Truncate(s.interval)
}

// next returns the beacon time for the first bucket that starts at or after
// from's bucket and has not yet been beaconed in (lastBucket); the returned
// time is never before from.
func (s *beaconSchedule) next(from time.Time, lastBucket time.Time) time.Time {
	b := s.bucket(from)
	if !lastBucket.IsZero() && !b.After(lastBucket) {
		b = lastBucket.Add(s.interval)
	}
	span := s.interval * 9 / 10
	at := b.Add(time.Duration(s.rng.Int64N(int64(span) + 1)))
	if at.Before(from) {
		// Joined the bucket late: beacon soon, still inside the bucket when possible.
		remaining := b.Add(span).Sub(from)
		if remaining <= 0 {
			return s.next(b.Add(s.interval), lastBucket)
		}
		at = from.Add(time.Duration(s.rng.Int64N(int64(remaining) + 1)))
	}
	return at
}
