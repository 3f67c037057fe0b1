package ingest

import (
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/verify"
)

// flags is a gaming detector that flags the hotspots it is told to and
// records what it observes.
type flags struct {
	mu       sync.Mutex
	reason   map[identity.PublicKey]poc.Reason
	observed []Result
}

func (f *flags) Suspect(pk identity.PublicKey) poc.Reason {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reason[pk]
}

func (f *flags) Observe(r Result) {
	f.mu.Lock()
	f.observed = append(f.observed, r)
	f.mu.Unlock()
}

// judgeSmall runs one beacon with its three witnesses through the pipeline.
func judgeSmall(t *testing.T, f *flags, flag func(s *small)) (*env, *small, Result) {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clk: clock.NewManual(day0), ents: &entropies{m: map[string]int64{}}, cfg: DefaultConfig(), trust: f}
	e.open()
	t.Cleanup(e.close)
	s := newSmall(t, e)
	flag(s)
	s.admitAll(t)
	e.advance(6 * time.Second)
	got := e.take()
	if len(got) != 1 {
		t.Fatalf("got %d results, want 1", len(got))
	}
	return e, s, got[0]
}

func TestTrustFlaggedWitness(t *testing.T) {
	f := &flags{reason: map[identity.PublicKey]poc.Reason{}}
	e, s, r := judgeSmall(t, f, func(s *small) { f.reason[s.ws[1].key.Public()] = poc.ReasonSuspectedSpoof })
	if r.Reason != poc.ReasonNone {
		t.Fatalf("beacon %v, want valid", r.Reason)
	}
	// Two valid witnesses: HIP-15 gives the beaconer 0.5 and each witness 1,
	// not scaled by trust (that happens at the epoch's close).
	if !near(r.Units, 0.5) {
		t.Errorf("beaconer units %v, want 0.5", r.Units)
	}
	for i, w := range r.Witnesses {
		switch {
		case w.Witness == s.ws[1].key.Public():
			if w.Reason != poc.ReasonSuspectedSpoof || w.Side != verify.SideWitness || w.Units != 0 || w.Rewarded {
				t.Errorf("flagged witness %d: %+v", i, w)
			}
		case w.Reason != poc.ReasonNone || !near(w.Units, 1):
			t.Errorf("witness %d: %+v", i, w)
		}
	}
	if tot := e.acc.Get(e.p.epoch(r.ReceivedAt), s.ws[1].key.Public()); tot.Witness != 0 {
		t.Errorf("flagged witness credited %+v", tot)
	}
	if len(f.observed) != 1 || f.observed[0].ID != r.ID {
		t.Errorf("detector observed %d results", len(f.observed))
	}
}

func TestTrustFlaggedBeaconer(t *testing.T) {
	f := &flags{reason: map[identity.PublicKey]poc.Reason{}}
	e, s, r := judgeSmall(t, f, func(s *small) { f.reason[s.b.key.Public()] = poc.ReasonSuspectedRing })
	if r.Reason != poc.ReasonSuspectedRing || r.Units != 0 {
		t.Fatalf("beacon %v units %v, want suspected_ring and 0", r.Reason, r.Units)
	}
	for i, w := range r.Witnesses {
		if w.Reason != poc.ReasonSuspectedRing || w.Side != verify.SideBeaconer || w.Units != 0 {
			t.Errorf("witness %d: %+v", i, w)
		}
		if tot := e.acc.Get(e.p.epoch(r.ReceivedAt), w.Witness); tot.Witness != 0 {
			t.Errorf("witness %d credited %+v", i, tot)
		}
	}
	if tot := e.acc.Get(e.p.epoch(r.ReceivedAt), s.b.key.Public()); tot.Beacon != 0 {
		t.Errorf("flagged beaconer credited %+v", tot)
	}
}
