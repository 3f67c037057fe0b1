package identity

import (
	"testing"
	"time"
)

func TestSuspects(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	s := NewSuspects(time.Minute, 2)
	a, b, c := PublicKey{1}, PublicKey{2}, PublicKey{3}
	if s.Has(a, t0) {
		t.Fatal("empty set has a signer")
	}
	s.Add(a, t0)
	s.Add(b, t0.Add(30*time.Second))
	if !s.Has(a, t0.Add(59*time.Second)) || !s.Has(b, t0.Add(59*time.Second)) {
		t.Fatal("signer forgotten within the ttl")
	}
	// Full: c is not remembered while a and b are live...
	s.Add(c, t0.Add(59*time.Second))
	if s.Has(c, t0.Add(59*time.Second)) {
		t.Fatal("a full set took a new signer")
	}
	// ... and takes it once a has expired.
	s.Add(c, t0.Add(61*time.Second))
	if !s.Has(c, t0.Add(61*time.Second)) || s.Has(a, t0.Add(61*time.Second)) {
		t.Fatal("expired signer not replaced")
	}
	// A new bad signature renews a signer's time.
	s.Add(b, t0.Add(80*time.Second))
	if !s.Has(b, t0.Add(120*time.Second)) || s.Has(b, t0.Add(141*time.Second)) {
		t.Fatal("renewal not kept for the ttl")
	}
	if n := s.Len(); n != 1 {
		t.Errorf("Len = %d after expiries, want 1 (c)", n)
	}
}
