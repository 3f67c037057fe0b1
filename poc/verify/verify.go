package verify

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"github.com/uber/h3-go/v4"
)

// Hotspot is what the verifier needs to know of an onboarded hotspot.
type Hotspot struct {
	Key        identity.PublicKey
	Location   h3.Cell     // asserted location (res 12); 0 when not asserted
	Region     wire.Region // region of the asserted location
	GainDBiX10 int32       // asserted antenna gain, dBi × 10
}

// Asserted reports whether the hotspot has an asserted location.
func (h Hotspot) Asserted() bool { return h.Location != 0 && h.Location.IsValid() }

// Registry looks up onboarded hotspots (the ledger implements it).
type Registry interface {
	Hotspot(pk identity.PublicKey) (Hotspot, bool)
}

// Entropies looks up an entropy value kept by the oracle by its data and
// returns its timestamp (Unix s).
type Entropies interface {
	EntropyTimestamp(data []byte) (int64, bool)
}

// Expected is a beacon as the verifier regenerates it.
type Expected struct {
	Payload    []byte
	Frequency  uint64 // Hz
	DataRate   string
	TxPowerDBm int32
}

// Builder regenerates a beacon from its inputs (internal/beacon.Build, see
// BeaconBuilder).
type Builder func(entropy []byte, entropyTimestamp int64, local []byte, region wire.Region, gainDBiX10 int32) (Expected, error)

// History is what the verifier remembers of past verdicts (see
// MemHistory.Record for what is recorded).
type History interface {
	// LastBeacon is the receive time of the hotspot's last beacon that
	// counts for the schedule.
	LastBeacon(pk identity.PublicKey) (time.Time, bool)
	// LastWitness is the receive time of the hotspot's last witness report
	// that was valid on every rule but reciprocity.
	LastWitness(pk identity.PublicKey) (time.Time, bool)
	// LastWitnessedBeacon is the receive time of the hotspot's last beacon
	// that was valid on every rule but reciprocity and drew at least one
	// witness valid on every rule but reciprocity.
	LastWitnessedBeacon(pk identity.PublicKey) (time.Time, bool)
}

// Deps are the verifier's read-only views.
type Deps struct {
	Registry  Registry  // required
	Entropies Entropies // required
	Build     Builder   // required
	History   History   // required
	Denylist  *Denylist // optional
	// Scale returns the beaconer's hex density scale; nil means 1.
	Scale func(pk identity.PublicKey) float64
}

// Verifier applies the rules.
type Verifier struct {
	cfg  Config
	deps Deps
	geo  *geo
}

// ErrMissingDep is returned by New when a required dependency is nil.
var ErrMissingDep = errors.New("verify: missing dependency")

// New returns a verifier.
func New(cfg Config, deps Deps) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Registry == nil || deps.Entropies == nil || deps.Build == nil || deps.History == nil {
		return nil, ErrMissingDep
	}
	return &Verifier{cfg: cfg, deps: deps, geo: newGeo(cfg)}, nil
}

// Config returns the verifier's config.
func (v *Verifier) Config() Config { return v.cfg }

// BeaconIn is a received beacon report.
type BeaconIn struct {
	Report     *wire.BeaconReport
	ReceivedAt time.Time // server receive time
	// SignatureValid says whether the report's signature verifies against
	// its signer (the caller checks, usually in a batch; see CheckSignature).
	SignatureValid bool
}

// WitnessIn is a received witness report.
type WitnessIn struct {
	Report         *wire.WitnessReport
	ReceivedAt     time.Time
	SignatureValid bool
}

// CheckSignature reports whether m's signature verifies against its own signer.
func CheckSignature(m identity.Signed) bool {
	_, err := identity.VerifySigned(m)
	return err == nil
}

// Side says whose fault an invalid witness verdict is.
type Side uint8

// Sides.
const (
	SideWitness  Side = iota // the witness failed a rule
	SideBeaconer             // the beacon it heard is invalid
)

// MarshalText names the side.
func (s Side) MarshalText() ([]byte, error) {
	if s == SideBeaconer {
		return []byte("beaconer"), nil
	}
	return []byte("witness"), nil
}

// UnmarshalText parses a side name, so that JSON verdicts round-trip.
func (s *Side) UnmarshalText(b []byte) error {
	switch string(b) {
	case "witness":
		*s = SideWitness
	case "beaconer":
		*s = SideBeaconer
	default:
		return fmt.Errorf("verify: unknown side %q", b)
	}
	return nil
}

// WitnessVerdict is the verdict on one witness report.
type WitnessVerdict struct {
	Witness    identity.PublicKey `json:"-"`
	ReceivedAt time.Time          `json:"received_at"`
	Reason     poc.Reason         `json:"reason"`
	Side       Side               `json:"side"`
	// OtherwiseValid: valid on every rule but reciprocity (counts for the
	// reciprocity history, so a fresh network bootstraps).
	OtherwiseValid bool    `json:"-"`
	Rewarded       bool    `json:"rewarded"`
	Units          float64 `json:"units"`
	DistanceM      float64 `json:"distance_m,omitempty"`
	RSSI           float32 `json:"rssi"`
	SNR            float32 `json:"snr"`
	Frequency      uint64  `json:"frequency"`
}

// Result is the verdict on a beacon and its witnesses.
type Result struct {
	Beaconer       identity.PublicKey `json:"-"`
	Data           []byte             `json:"data"`
	ReceivedAt     time.Time          `json:"received_at"`
	Reason         poc.Reason         `json:"reason"`
	OtherwiseValid bool               `json:"-"`
	Scale          float64            `json:"scale"`
	Units          float64            `json:"units"`
	Witnesses      []WitnessVerdict   `json:"witnesses"`
}

// Rewarded returns the number of rewarded witnesses.
func (r *Result) Rewarded() int {
	n := 0
	for _, w := range r.Witnesses {
		if w.Rewarded {
			n++
		}
	}
	return n
}

func signerOf(b []byte) identity.PublicKey {
	pk, _ := identity.PublicKeyFromBytes(b)
	return pk
}

// Verify judges a beacon and its witnesses. Witnesses are judged in order of
// receive time (ties keep the given order).
func (v *Verifier) Verify(b BeaconIn, ws []WitnessIn) Result {
	ws = append([]WitnessIn(nil), ws...)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].ReceivedAt.Before(ws[j].ReceivedAt) })

	res := Result{Beaconer: signerOf(b.Report.GetSigner()), Data: b.Report.GetData(), ReceivedAt: b.ReceivedAt}
	bh, entropyTs, reason := v.beacon(b)
	res.Reason = reason
	res.OtherwiseValid = reason == poc.ReasonNone || reason == poc.ReasonGatewayNoValidWitnesses

	deadline := v.deadline(b.ReceivedAt, ws)
	seen := make(map[identity.PublicKey]bool, len(ws))
	valid := 0
	for _, w := range ws {
		wv := WitnessVerdict{
			Witness: signerOf(w.Report.GetSigner()), ReceivedAt: w.ReceivedAt,
			RSSI: w.Report.GetRssi(), SNR: w.Report.GetSnr(), Frequency: w.Report.GetFrequency(),
		}
		if !res.OtherwiseValid {
			wv.Reason, wv.Side = res.Reason, SideBeaconer
			res.Witnesses = append(res.Witnesses, wv)
			continue
		}
		wv.Reason, wv.DistanceM = v.witness(b, bh, entropyTs, deadline, w, seen)
		if w.SignatureValid {
			seen[wv.Witness] = true
		}
		wv.OtherwiseValid = wv.Reason == poc.ReasonNone || wv.Reason == poc.ReasonGatewayNoValidBeacons
		if wv.Reason == poc.ReasonNone && res.Reason != poc.ReasonNone {
			wv.Reason, wv.Side = res.Reason, SideBeaconer
		}
		if wv.Reason == poc.ReasonNone {
			valid++
			wv.Rewarded = valid <= v.cfg.MaxRewardedWitnesses
		}
		res.Witnesses = append(res.Witnesses, wv)
	}
	if res.Reason == poc.ReasonNone {
		res.Scale = 1
		if v.deps.Scale != nil {
			res.Scale = v.deps.Scale(res.Beaconer)
		}
		bu, wu := v.cfg.Rewards.ScaledUnits(res.Rewarded(), res.Scale)
		res.Units = bu
		for i := range res.Witnesses {
			if res.Witnesses[i].Rewarded {
				res.Witnesses[i].Units = wu
			}
		}
	}
	return res
}

// deadline is the last receive time a witness may have: 4 s after the
// beacon report, or 1.5 s after the first witness when one came first.
// Only witnesses with a valid signature set the anchor, so a forgery cannot
// shorten the window.
func (v *Verifier) deadline(beaconAt time.Time, ws []WitnessIn) time.Time {
	for _, w := range ws { // sorted by receive time
		if w.SignatureValid {
			if w.ReceivedAt.Before(beaconAt) {
				return w.ReceivedAt.Add(v.cfg.WitnessLagAfterFirst)
			}
			break
		}
	}
	return beaconAt.Add(v.cfg.WitnessLag)
}

// bucket is the UTC-aligned schedule bucket of t.
func (v *Verifier) bucket(t time.Time) int64 {
	s := int64(v.cfg.BeaconInterval / time.Second)
	u := t.Unix()
	if u < 0 {
		return (u - s + 1) / s
	}
	return u / s
}

// within reports whether last (when known) is no further than window from now.
func within(last time.Time, ok bool, now time.Time, window time.Duration) bool {
	if !ok {
		return false
	}
	d := now.Sub(last)
	if d < 0 {
		d = -d
	}
	return d <= window
}
