package verify

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"github.com/uber/h3-go/v4"
)

// Scenario files (poc/testdata/scenarios/*.json) describe hotspots and cases;
// the harness builds real keys, real beacons (internal/beacon) and real
// signed reports from them, runs the verifier and checks every reason.

type hsSpec struct {
	Seed         int      `json:"seed"`
	Lat          *float64 `json:"lat"`
	Lng          *float64 `json:"lng"`
	Region       string   `json:"region"`
	Gain         int32    `json:"gain"`
	Unregistered bool     `json:"unregistered"`
	Copies       int      `json:"copies"` // name1..nameN at the same place
}

type beaconSpec struct {
	By      string  `json:"by"`
	AtS     float64 `json:"at_s"`    // seconds after the entropy timestamp; default 20
	Region  string  `json:"region"`  // report region override
	Tamper  string  `json:"tamper"`  // signature|forged|payload|frequency|data_rate|tx_power|local
	Entropy string  `json:"entropy"` // unknown|wrong_timestamp
}

type witnessSpec struct {
	By           string   `json:"by"`
	AtS          *float64 `json:"at_s"` // default: beacon + 1 s (+10 ms per index)
	RSSI         *float64 `json:"rssi"` // default −110 dBm
	FreqOffsetHz int64    `json:"freq_offset_hz"`
	Region       string   `json:"region"`
	Tamper       string   `json:"tamper"` // signature|data
}

type histSpec struct {
	Fresh               bool               `json:"fresh"`                  // no reciprocity history at all
	LastBeaconAgoS      map[string]float64 `json:"last_beacon_ago_s"`      // before the beacon's receive time
	WitnessAgoS         map[string]float64 `json:"witness_ago_s"`          // overrides the 1 h default
	WitnessedBeaconAgoS map[string]float64 `json:"witnessed_beacon_ago_s"` // overrides the 1 h default
}

type wantSpec struct {
	Beacon       string   `json:"beacon"`
	Witnesses    []string `json:"witnesses"`
	Rewarded     *int     `json:"rewarded"`
	BeaconUnits  *float64 `json:"beacon_units"`
	WitnessUnits *float64 `json:"witness_units"`
}

type caseSpec struct {
	Name      string        `json:"name"`
	Beacon    beaconSpec    `json:"beacon"`
	Witnesses []witnessSpec `json:"witnesses"`
	History   histSpec      `json:"history"`
	Deny      *struct {
		Hotspots []string    `json:"hotspots"`
		Edges    [][2]string `json:"edges"`
	} `json:"denylist"`
	Scale *float64 `json:"scale"`
	Want  wantSpec `json:"want"`
}

type scenarioFile struct {
	Hotspots map[string]hsSpec `json:"hotspots"`
	Cases    []caseSpec        `json:"cases"`
}

// entropyT0 is the entropy timestamp of every scenario: 03:00 UTC, inside
// the 00:00–06:00 schedule bucket.
var entropyT0 = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

var scenarioEntropy = func() []byte { h := sha256.Sum256([]byte("scenario entropy")); return h[:] }()

type testHotspot struct {
	key *identity.Key
	hs  Hotspot
	reg bool
}

type registry map[identity.PublicKey]Hotspot

func (r registry) Hotspot(pk identity.PublicKey) (Hotspot, bool) { h, ok := r[pk]; return h, ok }

type entropies map[string]int64

func (e entropies) EntropyTimestamp(d []byte) (int64, bool) { t, ok := e[string(d)]; return t, ok }

func parseRegion(t testing.TB, s string) wire.Region {
	if s == "" {
		return wire.Region_EU868
	}
	v, ok := wire.Region_value[s]
	if !ok {
		t.Fatalf("unknown region %q", s)
	}
	return wire.Region(v)
}

func seedKey(t testing.TB, seed int) *identity.Key {
	s := sha256.Sum256([]byte(fmt.Sprintf("hotspot seed %d", seed)))
	k, err := identity.FromSeed(s[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func buildHotspots(t testing.TB, specs map[string]hsSpec) map[string]*testHotspot {
	out := map[string]*testHotspot{}
	for name, s := range specs {
		names := []string{name}
		if s.Copies > 0 {
			names = nil
			for i := 1; i <= s.Copies; i++ {
				names = append(names, fmt.Sprintf("%s%d", name, i))
			}
		}
		for i, n := range names {
			k := seedKey(t, s.Seed*1000+i)
			hs := Hotspot{Key: k.Public(), Region: parseRegion(t, s.Region), GainDBiX10: s.Gain}
			if s.Lat != nil && s.Lng != nil {
				hs.Location = h3.LatLngToCell(h3.NewLatLng(*s.Lat, *s.Lng), 12)
			}
			out[n] = &testHotspot{key: k, hs: hs, reg: !s.Unregistered}
		}
	}
	return out
}

func at(s float64) time.Time { return entropyT0.Add(time.Duration(s * float64(time.Second))) }

func runCase(t *testing.T, hot map[string]*testHotspot, c caseSpec) {
	get := func(n string) *testHotspot {
		h, ok := hot[n]
		if !ok {
			t.Fatalf("unknown hotspot %q", n)
		}
		return h
	}
	reg := registry{}
	for _, h := range hot {
		if h.reg {
			reg[h.hs.Key] = h.hs
		}
	}
	ents := entropies{string(scenarioEntropy): entropyT0.Unix()}

	// History: by default every hotspot has reciprocity history 1 h old.
	bAt := c.Beacon.AtS
	if bAt == 0 {
		bAt = 20
	}
	hist := NewMemHistory()
	for n, h := range hot {
		if !c.History.Fresh {
			wa, wb := 3600.0, 3600.0
			if v, ok := c.History.WitnessAgoS[n]; ok {
				wa = v
			}
			if v, ok := c.History.WitnessedBeaconAgoS[n]; ok {
				wb = v
			}
			hist.SetLastWitness(h.hs.Key, at(bAt-wa))
			hist.SetLastWitnessedBeacon(h.hs.Key, at(bAt-wb))
		}
		if v, ok := c.History.LastBeaconAgoS[n]; ok {
			hist.SetLastBeacon(h.hs.Key, at(bAt-v))
		}
	}

	var deny *Denylist
	if c.Deny != nil {
		dk := seedKey(t, 999_999)
		body := DenylistBody{IssuedAt: entropyT0}
		for _, n := range c.Deny.Hotspots {
			body.Hotspots = append(body.Hotspots, get(n).key.Address())
		}
		for _, e := range c.Deny.Edges {
			body.Edges = append(body.Edges, [2]identity.Address{get(e[0]).key.Address(), get(e[1]).key.Address()})
		}
		file, err := SignDenylist(dk, body)
		if err != nil {
			t.Fatal(err)
		}
		if deny, err = LoadDenylist(file, dk.Public()); err != nil {
			t.Fatal(err)
		}
	}

	// The beacon, built by internal/beacon from the beaconer's asserted data.
	bh := get(c.Beacon.By)
	local := []byte{1, 2, 3, 4}
	exp, err := BeaconBuilder(scenarioEntropy, entropyT0.Unix(), local, bh.hs.Region, bh.hs.GainDBiX10)
	if err != nil {
		t.Fatal(err)
	}
	br := &wire.BeaconReport{
		Entropy: scenarioEntropy, EntropyTimestamp: entropyT0.Unix(), LocalEntropy: local,
		Data: exp.Payload, Frequency: exp.Frequency, DataRate: exp.DataRate, TxPowerDbm: exp.TxPowerDBm,
		TimestampMs: uint64(at(bAt).UnixMilli()), Region: bh.hs.Region,
	}
	if c.Beacon.Region != "" {
		br.Region = parseRegion(t, c.Beacon.Region)
	}
	switch c.Beacon.Entropy {
	case "":
	case "unknown":
		br.Entropy = make([]byte, 32)
	case "wrong_timestamp":
		br.EntropyTimestamp++
	default:
		t.Fatalf("entropy %q", c.Beacon.Entropy)
	}
	switch c.Beacon.Tamper {
	case "", "signature", "forged":
	case "payload":
		br.Data = append([]byte(nil), br.Data...)
		br.Data[10] ^= 1
	case "frequency":
		br.Frequency += 200_000
	case "data_rate":
		br.DataRate = "SF7BW125"
	case "tx_power":
		br.TxPowerDbm++
	case "local":
		br.LocalEntropy = []byte{1, 2, 3, 5}
	default:
		t.Fatalf("tamper %q", c.Beacon.Tamper)
	}
	signReport(t, bh.key, br, c.Beacon.Tamper)

	var ws []WitnessIn
	for i, w := range c.Witnesses {
		wh := get(w.By)
		wAt := bAt + 1 + 0.01*float64(i)
		if w.AtS != nil {
			wAt = *w.AtS
		}
		rssi := -110.0
		if w.RSSI != nil {
			rssi = *w.RSSI
		}
		wr := &wire.WitnessReport{
			Data: append([]byte(nil), br.Data...), Rssi: float32(rssi), Snr: -5,
			Frequency: uint64(int64(br.Frequency) + w.FreqOffsetHz), DataRate: br.DataRate,
			TimestampMs: uint64(at(wAt).UnixMilli()), Region: wh.hs.Region,
		}
		if w.Region != "" {
			wr.Region = parseRegion(t, w.Region)
		}
		if w.Tamper == "data" {
			wr.Data[0] ^= 0xff
		}
		signReport(t, wh.key, wr, w.Tamper)
		ws = append(ws, WitnessIn{Report: wr, ReceivedAt: at(wAt), SignatureValid: CheckSignature(wr)})
	}

	deps := Deps{Registry: reg, Entropies: ents, Build: BeaconBuilder, History: hist, Denylist: deny}
	if c.Scale != nil {
		s := *c.Scale
		deps.Scale = func(identity.PublicKey) float64 { return s }
	}
	v, err := New(DefaultConfig(), deps)
	if err != nil {
		t.Fatal(err)
	}
	res := v.Verify(BeaconIn{Report: br, ReceivedAt: at(bAt), SignatureValid: CheckSignature(br)}, ws)

	if got := res.Reason.String(); got != c.Want.Beacon {
		t.Errorf("beacon: got %s, want %s", got, c.Want.Beacon)
	}
	var got []string
	for _, w := range res.Witnesses {
		got = append(got, w.Reason.String())
	}
	if strings.Join(got, ",") != strings.Join(c.Want.Witnesses, ",") {
		t.Errorf("witnesses: got %v, want %v", got, c.Want.Witnesses)
	}
	if c.Want.Rewarded != nil && res.Rewarded() != *c.Want.Rewarded {
		t.Errorf("rewarded %d, want %d", res.Rewarded(), *c.Want.Rewarded)
	}
	if c.Want.BeaconUnits != nil && math.Abs(res.Units-*c.Want.BeaconUnits) > 5e-5 {
		t.Errorf("beacon units %.5f, want %.4f", res.Units, *c.Want.BeaconUnits)
	}
	if c.Want.WitnessUnits != nil {
		for i, w := range res.Witnesses {
			if w.Rewarded && math.Abs(w.Units-*c.Want.WitnessUnits) > 5e-5 {
				t.Errorf("witness %d units %.5f, want %.4f", i, w.Units, *c.Want.WitnessUnits)
			}
		}
	}
}

// signReport signs m with k and applies a signature tamper.
func signReport(t testing.TB, k *identity.Key, m identity.Signed, tamper string) {
	if tamper == "forged" {
		other := seedKey(t, 424242)
		if err := other.Sign(m); err != nil {
			t.Fatal(err)
		}
		m.ProtoReflect().Set(m.ProtoReflect().Descriptor().Fields().ByName("signer"), protoBytes(k.Public().Bytes()))
		return
	}
	if err := k.Sign(m); err != nil {
		t.Fatal(err)
	}
	if tamper == "signature" {
		sig := append([]byte(nil), m.GetSignature()...)
		sig[0] ^= 1
		m.ProtoReflect().Set(m.ProtoReflect().Descriptor().Fields().ByName("signature"), protoBytes(sig))
	}
}

// TestScenarios runs every scenario file and checks that every reason the
// verifier can emit is tripped by at least one case.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "scenarios", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	tripped := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sf scenarioFile
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		hot := buildHotspots(t, sf.Hotspots)
		for _, c := range sf.Cases {
			tripped[c.Want.Beacon] = true
			for _, w := range c.Want.Witnesses {
				tripped[w] = true
			}
			t.Run(filepath.Base(f)+"/"+c.Name, func(t *testing.T) { runCase(t, hot, c) })
		}
	}
	// Every reason the verifier emits must be tripped by some case.
	emitted := []poc.Reason{
		poc.ReasonBadSignature, poc.ReasonNotAsserted, poc.ReasonEntropyExpired, poc.ReasonBadEntropy,
		poc.ReasonIrregularInterval, poc.ReasonGatewayNotFound, poc.ReasonDenied, poc.ReasonInvalidPacket,
		poc.ReasonBadRSSI, poc.ReasonInvalidRegion, poc.ReasonMaxDistanceExceeded, poc.ReasonInvalidFrequency,
		poc.ReasonSelfWitness, poc.ReasonBelowMinDistance, poc.ReasonDuplicate, poc.ReasonDeniedEdge,
		poc.ReasonTooLate, poc.ReasonGatewayNoValidBeacons, poc.ReasonGatewayNoValidWitnesses, poc.ReasonNone,
	}
	var missing []string
	for _, r := range emitted {
		if !tripped[r.String()] {
			missing = append(missing, r.String())
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no scenario trips %v", missing)
	}
}
