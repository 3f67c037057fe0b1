package verify

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"github.com/uber/h3-go/v4"
)

func TestFSPL(t *testing.T) {
	// 1 km at 868 MHz: 20·log10(4π·1000·868e6/2.998e8) ≈ 91.2 dB.
	if got := FSPL(1000, 868e6); math.Abs(got-91.22) > 0.01 {
		t.Fatalf("FSPL = %v", got)
	}
	if d := FSPL(2000, 868e6) - FSPL(1000, 868e6); math.Abs(d-6.0206) > 1e-3 {
		t.Fatalf("doubling distance adds %v dB", d)
	}
}

func TestMinDistance(t *testing.T) {
	c := DefaultConfig()
	a := h3.LatLngToCell(h3.NewLatLng(52.37, 4.89), 12)
	near := h3.LatLngToCell(h3.NewLatLng(52.37135, 4.89), 12) // ~150 m
	far := h3.LatLngToCell(h3.NewLatLng(52.3754, 4.89), 12)   // ~600 m
	if !c.tooClose(a, near) || c.tooClose(a, far) {
		t.Fatalf("near %v far %v", c.tooClose(a, near), c.tooClose(a, far))
	}
	// When H3 cannot compute a grid distance (too far apart, across a
	// pentagon) h3-go returns 0; that is detected and great-circle metres
	// decide.
	sydney := h3.LatLngToCell(h3.NewLatLng(-33.87, 151.21), 12)
	if _, ok := gridDistance(a, sydney, 11); ok {
		t.Fatal("grid distance Amsterdam–Sydney claimed computable")
	}
	if c.tooClose(a, sydney) {
		t.Fatal("fallback says Sydney is too close")
	}
	if d, ok := gridDistance(a, a, 11); !ok || d != 0 {
		t.Fatal("same cell")
	}
}

// TestReciprocityBootstrap runs two rounds on a fresh network: in the first
// every verdict fails reciprocity, but recording it gives both hotspots
// history, so the second round (roles swapped, next bucket) is valid.
func TestReciprocityBootstrap(t *testing.T) {
	hot := buildHotspots(t, map[string]hsSpec{
		"A": {Seed: 1, Lat: ptr(52.37), Lng: ptr(4.89), Gain: 30},
		"B": {Seed: 2, Lat: ptr(52.388), Lng: ptr(4.89), Gain: 30},
	})
	reg := registry{}
	for _, h := range hot {
		reg[h.hs.Key] = h.hs
	}
	hist := NewMemHistory()
	v, err := New(DefaultConfig(), Deps{Registry: reg, Entropies: entropies{string(scenarioEntropy): entropyT0.Unix()}, Build: BeaconBuilder, History: hist})
	if err != nil {
		t.Fatal(err)
	}
	round := func(beaconer, witness *testHotspot, at time.Time) Result {
		exp, err := BeaconBuilder(scenarioEntropy, entropyT0.Unix(), []byte{9, 9, 9, 9}, wire.Region_EU868, 30)
		if err != nil {
			t.Fatal(err)
		}
		br := &wire.BeaconReport{Entropy: scenarioEntropy, EntropyTimestamp: entropyT0.Unix(), LocalEntropy: []byte{9, 9, 9, 9},
			Data: exp.Payload, Frequency: exp.Frequency, DataRate: exp.DataRate, TxPowerDbm: exp.TxPowerDBm, Region: wire.Region_EU868}
		_ = beaconer.key.Sign(br)
		wr := &wire.WitnessReport{Data: exp.Payload, Rssi: -110, Frequency: exp.Frequency, Region: wire.Region_EU868}
		_ = witness.key.Sign(wr)
		r := v.Verify(BeaconIn{Report: br, ReceivedAt: at, SignatureValid: true},
			[]WitnessIn{{Report: wr, ReceivedAt: at.Add(time.Second), SignatureValid: true}})
		hist.Record(r)
		return r
	}
	r1 := round(hot["A"], hot["B"], at(20))
	if r1.Reason != poc.ReasonGatewayNoValidWitnesses || r1.Witnesses[0].Reason != poc.ReasonGatewayNoValidBeacons || r1.Units != 0 {
		t.Fatalf("round 1: %v / %v", r1.Reason, r1.Witnesses[0].Reason)
	}
	r2 := round(hot["B"], hot["A"], at(60))
	if r2.Reason != poc.ReasonNone || r2.Witnesses[0].Reason != poc.ReasonNone || !r2.Witnesses[0].Rewarded {
		t.Fatalf("round 2: %v / %v", r2.Reason, r2.Witnesses[0].Reason)
	}
	// A's first beacon counted for the schedule: another in the same bucket is irregular.
	if r3 := round(hot["A"], hot["B"], at(100)); r3.Reason != poc.ReasonIrregularInterval {
		t.Fatalf("round 3: %v", r3.Reason)
	}
}

func ptr(f float64) *float64 { return &f }

func TestDenylistFile(t *testing.T) {
	dk := seedKey(t, 1)
	other := seedKey(t, 2)
	a, b, c := seedKey(t, 3), seedKey(t, 4), seedKey(t, 5)
	file, err := SignDenylist(dk, DenylistBody{Hotspots: []identity.Address{a.Address()}, Edges: [][2]identity.Address{{b.Address(), c.Address()}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := LoadDenylist(file, dk.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Denied(a.Public()) || d.Denied(b.Public()) || !d.DeniedEdge(c.Public(), b.Public()) || d.DeniedEdge(a.Public(), b.Public()) {
		t.Fatal("denylist content")
	}
	if _, err := LoadDenylist(file, other.Public()); !errors.Is(err, ErrBadDenylist) {
		t.Fatalf("accepted under another key: %v", err)
	}
	tampered := bytes.Replace(file, []byte(`"body": "`), []byte(`"body": "A`), 1)
	if _, err := LoadDenylist(tampered, dk.Public()); !errors.Is(err, ErrBadDenylist) {
		t.Fatalf("accepted tampered body: %v", err)
	}
	forged, _ := SignDenylist(other, DenylistBody{})
	if _, err := LoadDenylist(forged, dk.Public()); !errors.Is(err, ErrBadDenylist) {
		t.Fatal("accepted other signer")
	}
	for _, junk := range []string{"", "{}", "[1]", `{"body":"e30=","signer":"x","signature":""}`} {
		if _, err := LoadDenylist([]byte(junk), dk.Public()); !errors.Is(err, ErrBadDenylist) {
			t.Fatalf("accepted %q", junk)
		}
	}
	var nilList *Denylist
	if nilList.Denied(a.Public()) || nilList.DeniedEdge(a.Public(), b.Public()) {
		t.Fatal("nil denylist denies")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	mods := []func(*Config){
		func(c *Config) { c.EntropyValidity = 0 },
		func(c *Config) { c.BeaconInterval = 0 },
		func(c *Config) { c.WitnessLag = 0 },
		func(c *Config) { c.MinDistanceRes = 16 },
		func(c *Config) { c.MaxDistanceM = 1 },
		func(c *Config) { c.MaxRewardedWitnesses = -1 },
		func(c *Config) { c.Rewards.N = 0 },
	}
	for i, m := range mods {
		c := DefaultConfig()
		m(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) && err == nil {
			t.Errorf("mod %d accepted", i)
		}
	}
	if _, err := New(DefaultConfig(), Deps{}); !errors.Is(err, ErrMissingDep) {
		t.Fatal("missing deps accepted")
	}
}
