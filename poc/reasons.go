// Package poc is hexnet's proof-of-coverage oracle (DESIGN.md §5): this
// package holds the single verdict Reason enum shared by its subpackages;
// entropy, verify, density, rewards and ingest do the work.
package poc

import (
	"errors"
	"fmt"
)

// Reason is the one reason every PoC verdict carries. The first block is
// Helium's IoT verifier enum, kept by name and order so explorers and hosts
// recognise them; ours follow. ReasonNone means valid.
type Reason uint8

// Helium's reasons (DESIGN.md Appendix A), in Helium's order.
const (
	ReasonNone                    Reason = iota // valid
	ReasonBadSignature                          // signature does not verify against the signer
	ReasonNotAsserted                           // hotspot has no asserted location
	ReasonEntropyExpired                        // report received outside its entropy's validity window
	ReasonBadEntropy                            // entropy unknown, or its timestamp does not match
	ReasonInvalidCapability                     // hotspot may not take part in PoC (e.g. a data-only hotspot)
	ReasonInvalidPubkey                         // signer is not a usable public key
	ReasonIrregularInterval                     // more than one beacon in one schedule bucket
	ReasonGatewayNotFound                       // signer is not an onboarded hotspot
	ReasonDenied                                // hotspot is on the denylist
	ReasonInvalidPacket                         // beacon does not regenerate / witness data differs
	ReasonBadRSSI                               // RSSI above the free-space ceiling
	ReasonInvalidRegion                         // region differs from the asserted / beaconer's region
	ReasonMaxDistanceExceeded                   // witness too far from the beaconer
	ReasonInvalidFrequency                      // witness frequency too far from the beacon's
	ReasonSelfWitness                           // a hotspot witnessed its own beacon
	ReasonStale                                 // report too old to process
	ReasonScalingFactorNotFound                 // no density scale for the beaconer
	ReasonUnknownError                          // internal failure while verifying
	ReasonBelowMinDistance                      // witness too close to the beaconer
	ReasonDuplicate                             // same witness twice for one beacon, or a redelivered report
	ReasonDeniedEdge                            // the (beaconer, witness) pair is on the denylist
	ReasonTooLate                               // witness arrived after the lag window
	ReasonGatewayNoValidBeacons                 // witness whose own beacons drew no valid witness in the reciprocity window
	ReasonGatewayNoValidWitnesses               // beaconer that made no valid witness report in the reciprocity window

	// hexnet's reasons.

	ReasonMalformed       // report does not decode, or a field is out of range
	ReasonOversize        // report larger than the wire limit
	ReasonBeaconNotFound  // witness whose beacon never arrived within the wait window
	ReasonSuspectedSpoof  // reserved for the gaming rules: location spoof suspected
	ReasonSuspectedRing   // reserved for the gaming rules: witness ring suspected
	ReasonSuspectedRSSI   // reserved for the gaming rules: forged RSSI suspected
	ReasonSuspectedReplay // the gaming rules: witness reports copied from other hotspots suspected
	numReasons            // sentinel: count of reasons
)

var reasonNames = [numReasons]string{
	"reason_none", "bad_signature", "not_asserted", "entropy_expired", "bad_entropy",
	"invalid_capability", "invalid_pubkey", "irregular_interval", "gateway_not_found", "denied",
	"invalid_packet", "bad_rssi", "invalid_region", "max_distance_exceeded", "invalid_frequency",
	"self_witness", "stale", "scaling_factor_not_found", "unknown_error", "below_min_distance",
	"duplicate", "denied_edge", "too_late", "gateway_no_valid_beacons", "gateway_no_valid_witnesses",
	"malformed", "oversize", "beacon_not_found", "suspected_spoof", "suspected_ring", "suspected_rssi_forge",
	"suspected_replay",
}

// ErrUnknownReason is returned when parsing a name that is not a Reason.
var ErrUnknownReason = errors.New("poc: unknown reason")

// Reasons returns every reason in enum order.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// Valid reports whether r is ReasonNone.
func (r Reason) Valid() bool { return r == ReasonNone }

// Known reports whether r is a defined reason.
func (r Reason) Known() bool { return r < numReasons }

// String returns the reason's snake_case name, or "reason(N)" for an undefined value.
func (r Reason) String() string {
	if r.Known() {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ParseReason returns the reason with the given name.
func ParseReason(s string) (Reason, error) {
	for i, n := range reasonNames {
		if n == s {
			return Reason(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownReason, s)
}

// MarshalText encodes the reason as its name (JSON, TOML).
func (r Reason) MarshalText() ([]byte, error) {
	if !r.Known() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownReason, uint8(r))
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText decodes a reason from its name.
func (r *Reason) UnmarshalText(b []byte) error {
	v, err := ParseReason(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
