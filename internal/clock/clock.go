// Package clock is the injectable time source of hexnet: the real clock, a
// scaled clock that runs simulated time faster than real time (devnet), and
// a manual clock for tests.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// After delivers the time on the channel once d has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Scaled runs time Speedup times faster than the wall clock, starting at Start.
type Scaled struct {
	start   time.Time // simulated time at origin
	origin  time.Time // wall time at origin
	speedup float64
}

// NewScaled returns a clock that shows start now and advances speedup times faster than real time.
func NewScaled(start time.Time, speedup float64) *Scaled {
	if speedup <= 0 {
		speedup = 1
	}
	return &Scaled{start: start, origin: time.Now(), speedup: speedup}
}

// Speedup is the factor simulated time runs faster than real time.
func (s *Scaled) Speedup() float64 { return s.speedup }

// Now returns the simulated time.
func (s *Scaled) Now() time.Time {
	return s.start.Add(time.Duration(float64(time.Since(s.origin)) * s.speedup))
}

// After waits d of simulated time.
func (s *Scaled) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/s.speedup), func() { ch <- s.Now() })
	return ch
}

// Manual is a clock that moves only when told (tests).
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewManual returns a manual clock showing t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's time.
func (m *Manual) Now() time.Time { m.mu.Lock(); defer m.mu.Unlock(); return m.now }

// After fires once Advance has moved the clock by d.
func (m *Manual) After(d time.Duration) <-chan time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- m.now
		return ch
	}
	m.waiters = append(m.waiters, waiter{at: m.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d, firing due waiters.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	now := m.now
	kept := m.waiters[:0]
	var due []waiter
	for _, w := range m.waiters {
		if !w.at.After(now) {
			due = append(due, w)
		} else {
			kept = append(kept, w)
		}
	}
	m.waiters = kept
	m.mu.Unlock()
	for _, w := range due {
		w.ch <- now
	}
}

// Waiters is the number of pending After calls (tests use it to sync).
func (m *Manual) Waiters() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.waiters) }
