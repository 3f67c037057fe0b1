package verify

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc"
	"google.golang.org/protobuf/proto"
)

func validBeacon(t testing.TB) *wire.BeaconReport {
	r := &wire.BeaconReport{Entropy: bytes.Repeat([]byte{1}, 32), EntropyTimestamp: 1, LocalEntropy: []byte{1, 2, 3, 4},
		Data: bytes.Repeat([]byte{2}, 51), Frequency: 868_100_000, DataRate: "SF12BW125", TxPowerDbm: 13, Region: wire.Region_EU868}
	if err := seedKey(t, 1).Sign(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func validWitness(t testing.TB) *wire.WitnessReport {
	r := &wire.WitnessReport{Data: bytes.Repeat([]byte{2}, 51), Rssi: -100, Snr: 3, Frequency: 868_100_000, DataRate: "SF12BW125", Region: wire.Region_EU868}
	if err := seedKey(t, 2).Sign(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func envelope(t testing.TB, m proto.Message) []byte {
	var env wire.PocReport
	switch r := m.(type) {
	case *wire.BeaconReport:
		env.Report = &wire.PocReport_Beacon{Beacon: r}
	case *wire.WitnessReport:
		env.Report = &wire.PocReport_Witness{Witness: r}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	r, reason, err := Decode(envelope(t, validBeacon(t)))
	if err != nil || reason != poc.ReasonNone || r.Beacon == nil || r.Signer != seedKey(t, 1).Public() || !CheckSignature(r.Signed()) {
		t.Fatalf("beacon: %v %v", reason, err)
	}
	r, _, err = Decode(envelope(t, validWitness(t)))
	if err != nil || r.Witness == nil || len(r.Data()) != 51 || !CheckSignature(r.Signed()) {
		t.Fatalf("witness: %v", err)
	}

	cases := []struct {
		name string
		in   []byte
		want poc.Reason
	}{
		{"empty", nil, poc.ReasonMalformed},
		{"garbage", []byte{0xff, 0xff, 0xff}, poc.ReasonMalformed},
		{"oversize", make([]byte, wire.MaxMessageSize+1), poc.ReasonOversize},
		{"empty envelope", envelope(t, &wire.PocReport{}), poc.ReasonMalformed},
	}
	mutB := func(name string, f func(*wire.BeaconReport), want poc.Reason) {
		r := validBeacon(t)
		f(r)
		cases = append(cases, struct {
			name string
			in   []byte
			want poc.Reason
		}{name, envelope(t, r), want})
	}
	mutW := func(name string, f func(*wire.WitnessReport), want poc.Reason) {
		r := validWitness(t)
		f(r)
		cases = append(cases, struct {
			name string
			in   []byte
			want poc.Reason
		}{name, envelope(t, r), want})
	}
	mutB("short entropy", func(r *wire.BeaconReport) { r.Entropy = r.Entropy[:31] }, poc.ReasonMalformed)
	mutB("long local", func(r *wire.BeaconReport) { r.LocalEntropy = append(r.LocalEntropy, 0) }, poc.ReasonMalformed)
	mutB("short data", func(r *wire.BeaconReport) { r.Data = r.Data[:50] }, poc.ReasonMalformed)
	mutB("no frequency", func(r *wire.BeaconReport) { r.Frequency = 0 }, poc.ReasonMalformed)
	mutB("unknown region", func(r *wire.BeaconReport) { r.Region = 99 }, poc.ReasonInvalidRegion)
	mutB("no region", func(r *wire.BeaconReport) { r.Region = 0 }, poc.ReasonInvalidRegion)
	mutB("short signer", func(r *wire.BeaconReport) { r.Signer = r.Signer[:31] }, poc.ReasonInvalidPubkey)
	mutB("no signature", func(r *wire.BeaconReport) { r.Signature = nil }, poc.ReasonBadSignature)
	mutW("NaN rssi", func(r *wire.WitnessReport) { r.Rssi = float32(math.NaN()) }, poc.ReasonMalformed)
	mutW("Inf snr", func(r *wire.WitnessReport) { r.Snr = float32(math.Inf(1)) }, poc.ReasonMalformed)
	mutW("long data", func(r *wire.WitnessReport) { r.Data = append(r.Data, 1) }, poc.ReasonMalformed)
	mutW("long data rate", func(r *wire.WitnessReport) { r.DataRate = "SF12BW125SF12BW125" }, poc.ReasonMalformed)

	for _, c := range cases {
		_, reason, err := Decode(c.in)
		if reason != c.want || !errors.Is(err, ErrRejected) {
			t.Errorf("%s: reason %v err %v, want %v", c.name, reason, err, c.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the report decoder: it must never
// panic, must return a reason with every error, and an accepted report must
// re-encode to a report that decodes the same way.
func FuzzDecode(f *testing.F) {
	f.Add(envelope(f, validBeacon(f)))
	f.Add(envelope(f, validWitness(f)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, reason, err := Decode(b)
		if err != nil {
			if reason == poc.ReasonNone || !reason.Known() {
				t.Fatalf("error %v without a reason", err)
			}
			return
		}
		if reason != poc.ReasonNone || (r.Beacon == nil) == (r.Witness == nil) {
			t.Fatalf("accepted report %v %+v", reason, r)
		}
		_ = CheckSignature(r.Signed())
		again, reason2, err := Decode(envelope(t, r.Signed()))
		if err != nil || reason2 != poc.ReasonNone || again.Signer != r.Signer || !bytes.Equal(again.Data(), r.Data()) {
			t.Fatalf("re-encoded report: %v %v", reason2, err)
		}
	})
}
