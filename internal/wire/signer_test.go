package wire_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/internal/wire"
)

// signerOfDecoded is SignerOf's reference: the signer after a full decode.
func signerOfDecoded(k wire.Kind, b []byte) ([]byte, bool) {
	switch k {
	case wire.KindPoC:
		var r wire.PocReport
		if wire.Unmarshal(b, &r) != nil {
			return nil, false
		}
		switch x := r.Report.(type) {
		case *wire.PocReport_Beacon:
			return x.Beacon.GetSigner(), true
		case *wire.PocReport_Witness:
			return x.Witness.GetSigner(), true
		}
		return nil, true
	default:
		var u wire.PacketUp
		if wire.Unmarshal(b, &u) != nil {
			return nil, false
		}
		return u.GetSigner(), true
	}
}

func TestSignerOf(t *testing.T) {
	a, b := bytes.Repeat([]byte{0xaa}, 32), bytes.Repeat([]byte{0xbb}, 32)
	mk := func(m proto.Message) []byte {
		out, err := wire.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	beacon := func(s []byte) []byte {
		return mk(&wire.PocReport{Report: &wire.PocReport_Beacon{Beacon: &wire.BeaconReport{Data: []byte{1}, Signer: s}}})
	}
	witness := func(s []byte) []byte {
		return mk(&wire.PocReport{Report: &wire.PocReport_Witness{Witness: &wire.WitnessReport{Data: []byte{1}, Signer: s}}})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	// A signer field of the wrong wire type (varint) is unknown, not a signer.
	varint14 := protowire.AppendVarint(protowire.AppendTag(nil, 14, protowire.VarintType), 7)
	for _, tc := range []struct {
		name string
		kind wire.Kind
		b    []byte
		want []byte
	}{
		{"packet up", wire.KindUp, mk(&wire.PacketUp{Payload: []byte{1}, Signer: a}), a},
		{"packet up, signer repeated: the last wins", wire.KindUp, cat(mk(&wire.PacketUp{Signer: a}), mk(&wire.PacketUp{Signer: b})), b},
		{"packet up, no signer", wire.KindUp, mk(&wire.PacketUp{Payload: []byte{1}}), nil},
		{"packet up, signer with the wrong wire type", wire.KindUp, cat(mk(&wire.PacketUp{Signer: a}), varint14), a},
		{"beacon", wire.KindPoC, beacon(a), a},
		{"witness", wire.KindPoC, witness(b), b},
		{"beacon then witness: the oneof's last case", wire.KindPoC, cat(beacon(a), witness(b)), b},
		{"witness without signer after a beacon with one", wire.KindPoC, cat(beacon(a), witness(nil)), nil},
		{"beacon twice: merged, the later signer wins", wire.KindPoC, cat(beacon(a), beacon(b)), b},
		{"beacon twice, the second without signer: merged, the first stays", wire.KindPoC, cat(beacon(a), beacon(nil)), a},
	} {
		got, err := wire.SignerOf(tc.kind, tc.b)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: SignerOf = %x, %v; want %x", tc.name, got, err, tc.want)
		}
		if ref, ok := signerOfDecoded(tc.kind, tc.b); ok && !bytes.Equal(ref, got) {
			t.Errorf("%s: full decode says %x", tc.name, ref)
		}
	}
	if _, err := wire.SignerOf(wire.KindUp, []byte{0x72, 0x20, 1}); err == nil {
		t.Error("truncated signer accepted")
	}
}

// FuzzSignerOf: whenever the codec accepts a message, SignerOf names the
// same signer as the full decode (the broker's check and the services'
// signature check can never disagree on whose message it is).
func FuzzSignerOf(f *testing.F) {
	for _, name := range []string{"PocReport/beacon", "PocReport/witness", "PacketUp"} {
		b, err := wire.Marshal(samples()[name])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, name == "PacketUp")
	}
	f.Fuzz(func(t *testing.T, b []byte, up bool) {
		k := wire.KindPoC
		if up {
			k = wire.KindUp
		}
		ref, ok := signerOfDecoded(k, b)
		got, err := wire.SignerOf(k, b)
		if !ok {
			return
		}
		if err != nil || !bytes.Equal(got, ref) {
			t.Fatalf("SignerOf = %x, %v; decoded signer %x", got, err, ref)
		}
	})
}
