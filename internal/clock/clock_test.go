package clock

import (
	"testing"
	"time"
)

func TestManual(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(t0)
	a := m.After(time.Hour)
	b := m.After(2 * time.Hour)
	m.Advance(90 * time.Minute)
	select {
	case got := <-a:
		if !got.Equal(t0.Add(90 * time.Minute)) {
			t.Fatalf("fired at %s", got)
		}
	default:
		t.Fatal("1h waiter did not fire")
	}
	select {
	case <-b:
		t.Fatal("2h waiter fired early")
	default:
	}
	if m.Waiters() != 1 {
		t.Fatalf("waiters %d", m.Waiters())
	}
}

func TestScaledRunsFaster(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewScaled(t0, 3600)    // an hour per second
	<-s.After(36 * time.Second) // 10 ms of wall time
	if el := s.Now().Sub(t0); el < 36*time.Second {
		t.Fatalf("simulated elapsed %s < 36s", el)
	}
}
