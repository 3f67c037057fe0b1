package radio

import (
	"sync"
	"time"
)

// Frame is one transmission on the air.
type Frame struct {
	ID           uint64
	From         string // transmitter id
	FrequencyHz  uint64
	SF           int
	BandwidthKHz int
	PowerDBm     float64 // conducted power
	Start, End   time.Time
}

// overlaps reports whether two frames share channel, SF and time.
func (f Frame) overlaps(o Frame) bool {
	return f.ID != o.ID && f.FrequencyHz == o.FrequencyHz && f.SF == o.SF && f.Start.Before(o.End) && o.Start.Before(f.End)
}

// Air remembers recent transmissions to decide collisions at each receiver.
type Air struct {
	mu        sync.Mutex
	frames    []Frame
	nextID    uint64
	captureDB float64
	keep      time.Duration
}

// NewAir returns an empty air with a capture threshold in dB.
func NewAir(captureDB float64) *Air { return &Air{captureDB: captureDB, keep: 10 * time.Second} }

// Transmit puts a frame on the air and returns it with its id set.
func (a *Air) Transmit(f Frame) Frame {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	f.ID = a.nextID
	// Prune frames that ended long before this one started.
	kept := a.frames[:0]
	for _, o := range a.frames {
		if o.End.Add(a.keep).After(f.Start) {
			kept = append(kept, o)
		}
	}
	a.frames = append(kept, f)
	return f
}

// Survives reports whether frame f is received at a receiver despite the
// other frames overlapping it: rssiAt gives each frame's RSSI at that
// receiver (ok=false when the receiver does not hear that frame at all, and
// the receiver's own transmissions are passed as heard very strongly).
// f survives only if it is at least CaptureDB stronger than every overlapping frame.
func (a *Air) Survives(f Frame, rssiAt func(Frame) (float64, bool)) bool {
	mine, ok := rssiAt(f)
	if !ok {
		return false
	}
	a.mu.Lock()
	var others []Frame
	for _, o := range a.frames {
		if f.overlaps(o) {
			others = append(others, o)
		}
	}
	a.mu.Unlock()
	for _, o := range others {
		r, heard := rssiAt(o)
		if heard && mine < r+a.captureDB {
			return false
		}
	}
	return true
}

// DutyCycle limits each transmitter's airtime to a share of a sliding window.
type DutyCycle struct {
	mu     sync.Mutex
	limit  float64       // e.g. 0.01
	window time.Duration // e.g. 1 h
	used   map[string][]span
}

type span struct {
	at  time.Time
	dur time.Duration
}

// NewDutyCycle returns a limiter; a limit ≥ 1 or ≤ 0 never refuses.
func NewDutyCycle(limit float64, window time.Duration) *DutyCycle {
	return &DutyCycle{limit: limit, window: window, used: map[string][]span{}}
}

// Allow records and allows a transmission of airtime d by key at now when it
// fits the budget; otherwise it refuses and records nothing.
func (c *DutyCycle) Allow(key string, now time.Time, d time.Duration) bool {
	if c.limit <= 0 || c.limit >= 1 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	spans := c.used[key]
	var total time.Duration
	kept := spans[:0]
	for _, s := range spans {
		if s.at.After(now.Add(-c.window)) {
			kept = append(kept, s)
			total += s.dur
		}
	}
	if float64(total+d) > c.limit*float64(c.window) {
		c.used[key] = kept
		return false
	}
	c.used[key] = append(kept, span{now, d})
	return true
}
