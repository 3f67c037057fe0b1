package poc

import (
	"encoding/json"
	"errors"
	"testing"
)

// heliumOrder is Helium's InvalidReason enum, by name and number.
var heliumOrder = []string{
	"reason_none", "bad_signature", "not_asserted", "entropy_expired", "bad_entropy",
	"invalid_capability", "invalid_pubkey", "irregular_interval", "gateway_not_found", "denied",
	"invalid_packet", "bad_rssi", "invalid_region", "max_distance_exceeded", "invalid_frequency",
	"self_witness", "stale", "scaling_factor_not_found", "unknown_error", "below_min_distance",
	"duplicate", "denied_edge", "too_late", "gateway_no_valid_beacons", "gateway_no_valid_witnesses",
}

func TestReasonHeliumOrder(t *testing.T) {
	for i, name := range heliumOrder {
		if got := Reason(i).String(); got != name {
			t.Errorf("Reason(%d) = %q, want %q", i, got, name)
		}
	}
	if ReasonGatewayNoValidWitnesses != 24 || ReasonMalformed != 25 {
		t.Fatalf("enum numbering moved: %d %d", ReasonGatewayNoValidWitnesses, ReasonMalformed)
	}
}

func TestReasonRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		name := r.String()
		if seen[name] {
			t.Fatalf("duplicate name %q", name)
		}
		seen[name] = true
		p, err := ParseReason(name)
		if err != nil || p != r {
			t.Fatalf("ParseReason(%q) = %v, %v", name, p, err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `"`+name+`"` {
			t.Fatalf("json %s", b)
		}
		var back Reason
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Fatalf("json round trip %v %v", back, err)
		}
	}
	if len(seen) != int(numReasons) {
		t.Fatalf("%d names", len(seen))
	}
}

func TestReasonUnknown(t *testing.T) {
	if _, err := ParseReason("nope"); !errors.Is(err, ErrUnknownReason) {
		t.Fatalf("err = %v", err)
	}
	var r Reason
	if err := json.Unmarshal([]byte(`"bogus"`), &r); err == nil {
		t.Fatal("accepted bogus reason")
	}
	if _, err := json.Marshal(Reason(200)); err == nil {
		t.Fatal("marshalled undefined reason")
	}
	if Reason(200).String() != "reason(200)" {
		t.Fatal(Reason(200).String())
	}
	if !ReasonNone.Valid() || ReasonDenied.Valid() {
		t.Fatal("Valid")
	}
}
