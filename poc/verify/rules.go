package verify

import (
	"bytes"
	"math"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/poc"
)

// beacon applies the beacon rules in order and returns the beaconer, the
// entropy timestamp and the first failing reason (ReasonNone when valid).
//
// Order: bad_signature, gateway_not_found, not_asserted, denied,
// bad_entropy, entropy_expired, invalid_region, invalid_packet,
// irregular_interval, gateway_no_valid_witnesses.
func (v *Verifier) beacon(b BeaconIn) (Hotspot, int64, poc.Reason) {
	r := b.Report
	if !b.SignatureValid {
		return Hotspot{}, 0, poc.ReasonBadSignature
	}
	pk := signerOf(r.GetSigner())
	h, ok := v.deps.Registry.Hotspot(pk)
	if !ok {
		return h, 0, poc.ReasonGatewayNotFound
	}
	if !h.Asserted() {
		return h, 0, poc.ReasonNotAsserted
	}
	if v.deps.Denylist.Denied(pk) {
		return h, 0, poc.ReasonDenied
	}
	ts, ok := v.deps.Entropies.EntropyTimestamp(r.GetEntropy())
	if !ok || ts != r.GetEntropyTimestamp() {
		return h, 0, poc.ReasonBadEntropy
	}
	if reason := v.entropyAge(b.ReceivedAt, ts); reason != poc.ReasonNone {
		return h, ts, reason
	}
	if r.GetRegion() != h.Region {
		return h, ts, poc.ReasonInvalidRegion
	}
	want, err := v.deps.Build(r.GetEntropy(), r.GetEntropyTimestamp(), r.GetLocalEntropy(), h.Region, h.GainDBiX10)
	if err != nil || !bytes.Equal(want.Payload, r.GetData()) || want.Frequency != r.GetFrequency() ||
		want.DataRate != r.GetDataRate() || want.TxPowerDBm != r.GetTxPowerDbm() {
		return h, ts, poc.ReasonInvalidPacket
	}
	if last, ok := v.deps.History.LastBeacon(pk); ok && v.bucket(last) == v.bucket(b.ReceivedAt) {
		return h, ts, poc.ReasonIrregularInterval
	}
	if last, ok := v.deps.History.LastWitness(pk); !within(last, ok, b.ReceivedAt, v.cfg.ReciprocityWindow) {
		return h, ts, poc.ReasonGatewayNoValidWitnesses
	}
	return h, ts, poc.ReasonNone
}

// entropyAge checks a receive time against the entropy's validity window.
func (v *Verifier) entropyAge(at time.Time, entropyTs int64) poc.Reason {
	age := at.Sub(time.Unix(entropyTs, 0))
	switch {
	case age < -v.cfg.MaxClockSkew:
		return poc.ReasonBadEntropy
	case age > v.cfg.EntropyValidity:
		return poc.ReasonEntropyExpired
	}
	return poc.ReasonNone
}

// witness applies the witness rules in order to one witness of a beacon
// that is valid on every beacon rule but reciprocity, and returns the first
// failing reason and the beaconer–witness distance (0 when not reached).
//
// Order: bad_signature, duplicate, gateway_not_found, not_asserted, denied,
// self_witness, denied_edge, entropy_expired, invalid_packet, too_late,
// invalid_frequency, invalid_region, below_min_distance,
// max_distance_exceeded, bad_rssi, gateway_no_valid_beacons.
func (v *Verifier) witness(b BeaconIn, bh Hotspot, entropyTs int64, deadline time.Time, w WitnessIn, seen map[identity.PublicKey]bool) (poc.Reason, float64) {
	r := w.Report
	if !w.SignatureValid {
		return poc.ReasonBadSignature, 0
	}
	pk := signerOf(r.GetSigner())
	if seen[pk] {
		return poc.ReasonDuplicate, 0
	}
	h, ok := v.deps.Registry.Hotspot(pk)
	if !ok {
		return poc.ReasonGatewayNotFound, 0
	}
	if !h.Asserted() {
		return poc.ReasonNotAsserted, 0
	}
	if v.deps.Denylist.Denied(pk) {
		return poc.ReasonDenied, 0
	}
	if pk == bh.Key {
		return poc.ReasonSelfWitness, 0
	}
	if v.deps.Denylist.DeniedEdge(bh.Key, pk) {
		return poc.ReasonDeniedEdge, 0
	}
	if reason := v.entropyAge(w.ReceivedAt, entropyTs); reason != poc.ReasonNone {
		return poc.ReasonEntropyExpired, 0
	}
	if !bytes.Equal(r.GetData(), b.Report.GetData()) {
		return poc.ReasonInvalidPacket, 0
	}
	if w.ReceivedAt.After(deadline) {
		return poc.ReasonTooLate, 0
	}
	bf, wf := b.Report.GetFrequency(), r.GetFrequency()
	if max(bf, wf)-min(bf, wf) > v.cfg.MaxFrequencyOffsetHz {
		return poc.ReasonInvalidFrequency, 0
	}
	if h.Region != bh.Region || r.GetRegion() != h.Region {
		return poc.ReasonInvalidRegion, 0
	}
	d := v.geo.distanceM(bh.Location, h.Location)
	if v.geo.tooClose(bh.Location, h.Location, d) {
		return poc.ReasonBelowMinDistance, 0
	}
	if d > v.cfg.MaxDistanceM {
		return poc.ReasonMaxDistanceExceeded, d
	}
	ceiling := float64(b.Report.GetTxPowerDbm()) + float64(bh.GainDBiX10)/10 + float64(h.GainDBiX10)/10 -
		FSPL(d, float64(bf)) + v.cfg.RSSIMarginDB
	if rssi := float64(r.GetRssi()); math.IsNaN(rssi) || rssi > ceiling {
		return poc.ReasonBadRSSI, d
	}
	if last, ok := v.deps.History.LastWitnessedBeacon(pk); !within(last, ok, w.ReceivedAt, v.cfg.ReciprocityWindow) {
		return poc.ReasonGatewayNoValidBeacons, d
	}
	return poc.ReasonNone, d
}
