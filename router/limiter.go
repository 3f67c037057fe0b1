package router

import (
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
)

// limiter is a token bucket per hotspot.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[identity.PublicKey]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, buckets: map[identity.PublicKey]*bucket{}}
}

// allow takes one token from pk's bucket at time now.
func (l *limiter) allow(pk identity.PublicKey, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[pk]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[pk] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens += dt * l.rate
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets buckets that have refilled completely (they equal a new one).
func (l *limiter) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for pk, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, pk)
		}
	}
}
