package trust

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
					if !ever || (rec.Reason != c.want && !(c.kind == kRing && rec.Reason == poc.ReasonSuspectedSpoof)) {
						t.Errorf("%s %s: ever flagged %v reason %v, want %v; now %+v", h.kind, h.id, ever, rec.Reason, c.want, sc)
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
		tr.persistFlag(pk, rec)
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
		if !got[pk] || !sc.EverFlagged || sc.Reason != poc.ReasonSuspectedSpoof || !sc.Since.Equal(out.tracker.ever[pk].At) {
			t.Errorf("after restart %s: %+v", pk, sc)
		}
		// The first flag's evidence survives the restart, in words.
		if f := sc.FirstFlag; f == nil || f.Reason != poc.ReasonSuspectedSpoof || len(f.Evidence) == 0 ||
			f.Evidence[0] != out.tracker.ever[pk].Evidence[0] {
			t.Errorf("after restart %s: first flag %+v", pk, sc.FirstFlag)
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

// TestRepeatedLinksArePeersNotSamples: an honest hotspot's few neighbours,
// each heard many times with the same shadowing, are a few samples of it:
// three peers repeated 30 times give no slope, fit or bias evidence, while
// a score over reports would have found a "significant" slope and a fit too
// good to be true.
func TestRepeatedLinksArePeersNotSamples(t *testing.T) {
	var links []link
	for i := range 90 {
		var pk identity.PublicKey
		pk[0] = byte(i % 3)
		x := []float64{3.0, 3.3, 3.6}[i%3]
		y := []float64{4, 0, -4}[i%3] // −13 dB per decade, the same every report
		links = append(links, link{x: x, resid: y, peer: pk, heard: i%2 == 0})
	}
	pts, n := peerPoints(links, func(identity.PublicKey) bool { return false })
	if len(pts) != 3 || n != 90 {
		t.Fatalf("points %d links %d, want 3 and 90", len(pts), n)
	}
	tr, err := New(DefaultConfig(), Deps{Registry: simRegistry{}})
	if err != nil {
		t.Fatal(err)
	}
	h := &hot{peers: map[identity.PublicKey]*peer{}}
	for _, l := range links {
		h.links.add(l, tr.cfg.Window)
	}
	evs, _ := tr.evaluateLocked(h)
	if len(evs) != 0 {
		t.Errorf("evidence from three peers: %+v", evs)
	}
	// Skipped peers (flagged now) leave the points.
	pts, n = peerPoints(links, func(pk identity.PublicKey) bool { return pk[0] == 1 })
	if len(pts) != 2 || n != 60 {
		t.Errorf("with one peer skipped: points %d links %d", len(pts), n)
	}
}

func TestTrimmedSlope(t *testing.T) {
	var pts []point
	for i := range 20 {
		x := 3 + 0.05*float64(i)
		pts = append(pts, point{x: x, y: -20*(x-3.5) + []float64{1, -1}[i%2]})
	}
	// One cheating peer far off the line is left out, not fitted.
	pts = append(pts, point{x: 3.0, y: -40})
	slope, z, kept, ok := trimmedSlope(pts, 0, 3, 0.15, 6)
	if !ok || kept != 20 || math.Abs(slope+20) > 0.5 {
		t.Fatalf("slope %v kept %d ok %v, want −20 over 20 points", slope, kept, ok)
	}
	// The standard error is never below what shadowing gives: with σ 6 dB
	// and Sxx = 1.6625, z = slope·√Sxx/6 ≈ −4.3 although the points lie
	// within 1 dB of the line (their own σ would give z ≈ −26).
	if want := slope * math.Sqrt(1.6625) / 6; math.Abs(z-want) > 1e-6 {
		t.Errorf("z %v, want %v", z, want)
	}
	if _, _, _, ok := trimmedSlope(pts[:5], 0, 3, 0.15, 6); ok {
		t.Error("a spread of 0.07 decades gave a slope")
	}
}

func TestClosedGroup(t *testing.T) {
	var links []link
	add := func(peer byte, n int, heard bool) {
		for range n {
			var pk identity.PublicKey
			pk[0] = peer
			links = append(links, link{peer: pk, heard: heard})
		}
	}
	add(1, 10, true) // two ring partners' beacons, often
	add(2, 10, true)
	add(3, 1, true) // a far hotspot, once
	add(4, 1, true)
	add(5, 1, true)
	add(6, 1, true)
	add(7, 40, false) // others hearing it do not make a group open
	peers, top, share := closedGroup(links, 5)
	if peers != 6 || top != 23 || math.Abs(share-23.0/24) > 1e-9 {
		t.Errorf("peers %d top %d share %v, want 6, 23 and 23/24", peers, top, share)
	}
	if p, top, s := closedGroup(nil, 5); p != 0 || top != 0 || s != 1 {
		t.Errorf("no links: %d %d %v", p, top, s)
	}
}

// TestProbationCannotFlag: a new hotspot whose first links all look wrong
// (they may be with cheaters not yet caught) earns nothing but is not
// flagged until it leaves probation.
func TestProbationCannotFlag(t *testing.T) {
	tr, err := New(DefaultConfig(), Deps{Registry: simRegistry{}})
	if err != nil {
		t.Fatal(err)
	}
	h := &hot{peers: map[identity.PublicKey]*peer{}}
	h.trust = Trust{Score: tr.cfg.ProbationTrust, Probation: true}
	for i := range 12 {
		var pk identity.PublicKey
		pk[0] = byte(i)
		h.links.add(link{x: 3.5, resid: -30, peer: pk}, tr.cfg.Window)
	}
	tr.rescoreLocked(h, time.Unix(0, 0))
	if !h.trust.Probation || h.trust.Flagged || h.trust.Multiplier != 0 || h.trust.Score != tr.cfg.FlagTrust {
		t.Fatalf("in probation: %+v", h.trust)
	}
	for i := range 12 {
		var pk identity.PublicKey
		pk[0] = byte(i)
		h.links.add(link{x: 3.5, resid: -30, peer: pk}, tr.cfg.Window)
	}
	tr.rescoreLocked(h, time.Unix(0, 0))
	if h.trust.Probation || !h.trust.Flagged || h.trust.Reason != poc.ReasonSuspectedSpoof {
		t.Fatalf("out of probation: %+v", h.trust)
	}
}
