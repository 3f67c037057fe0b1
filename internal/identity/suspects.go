package identity

import (
	"sync"
	"time"
)

// Suspects remembers the signers whose signature failed recently, so that
// their next messages are checked alone rather than in a Batch. One bad
// signature makes a batch verification fail and fall back to checking every
// entry alone (about three times the cost of the batch); a signer that keeps
// sending bad signatures would do that to every batch it lands in. Checked
// alone, its messages cost one verification each and the batches around
// them stay cheap. It is safe for concurrent use; times come from the
// caller's clock.
type Suspects struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[PublicKey]time.Time // signer → when its last bad signature was seen
}

// NewSuspects returns a set that keeps a signer for ttl after its last bad
// signature and holds at most max signers (beyond, new ones are not
// remembered until old ones expire: their messages stay in batches, which
// is correct, only slower).
func NewSuspects(ttl time.Duration, max int) *Suspects {
	return &Suspects{ttl: ttl, max: max, m: map[PublicKey]time.Time{}}
}

// Add records a bad signature by pk at now.
func (s *Suspects) Add(pk PublicKey, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[pk]; !ok && len(s.m) >= s.max {
		for k, at := range s.m {
			if now.Sub(at) >= s.ttl {
				delete(s.m, k)
			}
		}
		if len(s.m) >= s.max {
			return
		}
	}
	s.m[pk] = now
}

// Has reports whether pk had a bad signature within ttl before now.
func (s *Suspects) Has(pk PublicKey, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.m[pk]
	if ok && now.Sub(at) >= s.ttl {
		delete(s.m, pk)
		return false
	}
	return ok
}

// Len returns how many signers are remembered (expired ones included until
// they are next looked at).
func (s *Suspects) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
