package trust

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/poc"
)

// TestEachKindCaughtWithItsReason runs one kind of cheater at a time among
// honest hotspots: every cheater is flagged with its own reason, no honest
// hotspot is flagged, and honest scores stay at full multiplier.
func TestEachKindCaughtWithItsReason(t *testing.T) {
	cases := []struct {
		name                       string
		spoof, ring, forge, replay int
		kind                       kind
		want                       poc.Reason
	}{
		{"spoof", 3, 0, 0, 0, kSpoof, poc.ReasonSuspectedSpoof},
		{"ring", 0, 6, 0, 0, kRing, poc.ReasonSuspectedRing},
		{"rssi_forge", 0, 0, 3, 0, kForge, poc.ReasonSuspectedRSSI},
		{"replay", 0, 0, 0, 3, kReplay, poc.ReasonSuspectedReplay},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pop := newPopulation(5, 40, c.spoof, c.ring, c.forge, c.replay)
			out := simulate(t, pop, DefaultConfig(), 2, 5)
			for _, h := range pop.hs {
				rec, ever := out.tracker.ever[h.key]
				sc := out.tracker.Score(h.key)
				switch h.kind {
				case kHonest:
					if ever {
						t.Errorf("honest %s flagged: %+v", h.id, sc)
					}
					if sc.Multiplier < 1 {
						t.Errorf("honest %s multiplier %v: %v", h.id, sc.Multiplier, sc.Evidence)
					}
				case c.kind:
					// A ring sits far away, so a spoof reason names it too.
					if !ever || (rec.reason != c.want && !(c.kind == kRing && rec.reason == poc.ReasonSuspectedSpoof)) {
						t.Errorf("%s %s: ever flagged %v reason %v, want %v; now %+v", h.kind, h.id, ever, rec.reason, c.want, sc)
					}
					if len(sc.Evidence) == 0 || sc.Evidence[0] == "" {
						t.Errorf("no evidence in words: %+v", sc)
					}
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"zero window":      func(c *Config) { c.Window = 0 },
		"flag above soft":  func(c *Config) { c.FlagTrust = 0.9 },
		"probation low":    func(c *Config) { c.ProbationTrust = 0.1 },
		"bias zero":        func(c *Config) { c.BiasDB = 0 },
		"share above one":  func(c *Config) { c.SilenceShare = 1.5 },
		"soft start one":   func(c *Config) { c.SoftStart = 1 },
		"no active window": func(c *Config) { c.ActiveWindow = 0 },
	} {
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMultiplier(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct{ score, want float64 }{{1, 1}, {0.8, 1}, {0.55, 0.5}, {0.3, 0}, {0.29, 0}, {0, 0}} {
		if got := c.Multiplier(tc.score); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("Multiplier(%v) = %v, want %v", tc.score, got, tc.want)
		}
	}
}

// TestFlagsPersist: hotspots flagged in one tracker are in Flagged() of a
// new tracker over the same store, with their reason.
func TestFlagsPersist(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sp := db.Prefix("poc/trust/")
	pop := newPopulation(9, 30, 2, 0, 0, 0)
	tr, err := New(DefaultConfig(), Deps{Registry: pop.reg, Store: sp})
	if err != nil {
		t.Fatal(err)
	}
	// Feed the tracker through the simulation, then copy its flags' records
	// by running the same observations into tr.
	out := simulate(t, pop, DefaultConfig(), 1, 9)
	want := out.tracker.Flagged()
	if len(want) != 2 {
		t.Fatalf("simulation flagged %d, want the 2 spoofers", len(want))
	}
	for pk := range want {
		rec := out.tracker.ever[pk]
		tr.mu.Lock()
		tr.ever[pk] = rec
		tr.persistFlag(pk, rec.since, rec.reason)
		tr.mu.Unlock()
	}
	again, err := New(DefaultConfig(), Deps{Registry: pop.reg, Store: sp})
	if err != nil {
		t.Fatal(err)
	}
	got := again.Flagged()
	if len(got) != len(want) {
		t.Fatalf("after restart %d flagged, want %d", len(got), len(want))
	}
	for pk := range want {
		sc := again.Score(pk)
		if !got[pk] || !sc.EverFlagged || sc.Reason != poc.ReasonSuspectedSpoof || !sc.Since.Equal(out.tracker.ever[pk].since) {
			t.Errorf("after restart %s: %+v", pk, sc)
		}
	}
}

// TestRebuildFromResults: replaying the same verdicts into a fresh tracker
// (as ingest does at start) gives the same scores.
func TestRebuildFromResults(t *testing.T) {
	pop := newPopulation(4, 30, 1, 3, 1, 1)
	a := simulate(t, pop, DefaultConfig(), 1, 4)
	b := simulate(t, pop, DefaultConfig(), 1, 4)
	for _, h := range pop.hs {
		if sa, sb := a.tracker.Score(h.key), b.tracker.Score(h.key); sa.Score != sb.Score || sa.Flagged != sb.Flagged {
			t.Errorf("%s: %v vs %v", h.id, sa, sb)
		}
	}
}

func TestHandler(t *testing.T) {
	pop := newPopulation(6, 30, 1, 0, 0, 0)
	out := simulate(t, pop, DefaultConfig(), 1, 6)
	srv := httptest.NewServer(out.tracker.Handler())
	defer srv.Close()
	var spoof, honest identity.PublicKey
	for _, h := range pop.hs {
		if h.kind == kSpoof {
			spoof = h.key
		} else {
			honest = h.key
		}
	}
	get := func(path string) (int, Trust) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr Trust
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, tr
	}
	code, tr := get("/api/v1/hotspots/" + spoof.String() + "/trust")
	if code != 200 || !tr.Flagged || !tr.EverFlagged || tr.Reason != poc.ReasonSuspectedSpoof || tr.Score >= 0.3 || len(tr.Evidence) == 0 {
		t.Errorf("spoofer: %d %+v", code, tr)
	}
	code, tr = get("/api/v1/hotspots/" + honest.String() + "/trust")
	if code != 200 || tr.Flagged || tr.Multiplier != 1 || tr.Reason != poc.ReasonNone {
		t.Errorf("honest: %d %+v", code, tr)
	}
	k, _ := identity.FromSeed(make([]byte, 32))
	code, tr = get("/api/v1/hotspots/" + k.Public().String() + "/trust")
	if code != 200 || !tr.Probation || tr.Flagged {
		t.Errorf("unknown: %d %+v", code, tr)
	}
	if code, _ = get("/api/v1/hotspots/not-an-address/trust"); code != 400 {
		t.Errorf("bad address: %d", code)
	}
}

// TestOnTrust: subscribers get JSON for the flagged hotspot.
func TestOnTrust(t *testing.T) {
	pop := newPopulation(8, 20, 1, 0, 0, 0)
	var spoof identity.PublicKey
	for _, h := range pop.hs {
		if h.kind == kSpoof {
			spoof = h.key
		}
	}
	tr, err := New(DefaultConfig(), Deps{Registry: pop.reg})
	if err != nil {
		t.Fatal(err)
	}
	flagged := false
	tr.OnTrust(func(addr string, body json.RawMessage) {
		var v Trust
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("bad JSON %s: %v", body, err)
		}
		if addr == spoof.String() && v.Flagged {
			flagged = true
		}
	})
	replayInto(t, pop, tr, 1, 8)
	if !flagged {
		t.Error("no flagged trust published for the spoofer")
	}
}
