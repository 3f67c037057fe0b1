package identity

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
	"google.golang.org/protobuf/proto"
)

func samplePacketUp() *wire.PacketUp {
	return &wire.PacketUp{
		Payload:      []byte{0x40, 0x01, 0x02, 0x03, 0x04, 0x80, 0x01, 0x00, 0x01, 0xaa, 0xbb},
		Tmst:         123456789,
		GpsTimeUs:    1400000000000000,
		Rssi:         -97.5,
		Snr:          7.25,
		Frequency:    868_100_000,
		DataRate:     "SF7BW125",
		Region:       wire.Region_EU868,
		ReceivedAtMs: 1_790_000_000_000,
		CodingRate:   "4/5",
	}
}

func sampleBeaconReport() *wire.BeaconReport {
	return &wire.BeaconReport{
		Entropy:          bytes.Repeat([]byte{0xe1}, 32),
		EntropyTimestamp: 1_790_000_000,
		LocalEntropy:     []byte{1, 2, 3, 4},
		Data:             bytes.Repeat([]byte{0x5a}, 51),
		Frequency:        867_500_000,
		DataRate:         "SF12BW125",
		TxPowerDbm:       14,
		Tmst:             42,
		TimestampMs:      1_790_000_000_123,
		Region:           wire.Region_EU868,
	}
}

func TestSignVerifyMessages(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	type tamper struct {
		name string
		f    func(m proto.Message)
	}
	cases := []struct {
		name    string
		msg     func() Signed
		tampers []tamper
	}{
		{"PacketUp", func() Signed { return samplePacketUp() }, []tamper{
			{"payload", func(m proto.Message) { m.(*wire.PacketUp).Payload[3] ^= 1 }},
			{"rssi", func(m proto.Message) { m.(*wire.PacketUp).Rssi = -20 }},
			{"frequency", func(m proto.Message) { m.(*wire.PacketUp).Frequency++ }},
			{"region", func(m proto.Message) { m.(*wire.PacketUp).Region = wire.Region_US915 }},
			{"data rate", func(m proto.Message) { m.(*wire.PacketUp).DataRate = "SF8BW125" }},
			{"signer", func(m proto.Message) { m.(*wire.PacketUp).Signer = testKey(t, 3).Public().Bytes() }},
			{"signature", func(m proto.Message) { m.(*wire.PacketUp).Signature[0] ^= 1 }},
			{"signature truncated", func(m proto.Message) { p := m.(*wire.PacketUp); p.Signature = p.Signature[:63] }},
			{"signature removed", func(m proto.Message) { m.(*wire.PacketUp).Signature = nil }},
			{"field cleared", func(m proto.Message) { m.(*wire.PacketUp).CodingRate = "" }},
		}},
		{"BeaconReport", func() Signed { return sampleBeaconReport() }, []tamper{
			{"data", func(m proto.Message) { m.(*wire.BeaconReport).Data[50] ^= 0x80 }},
			{"local entropy", func(m proto.Message) { m.(*wire.BeaconReport).LocalEntropy[0]++ }},
			{"tx power", func(m proto.Message) { m.(*wire.BeaconReport).TxPowerDbm = 27 }},
			{"timestamp", func(m proto.Message) { m.(*wire.BeaconReport).TimestampMs-- }},
			{"entropy timestamp", func(m proto.Message) { m.(*wire.BeaconReport).EntropyTimestamp = 0 }},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.msg()
			if err := k.Sign(m); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.GetSigner(), k.Public().Bytes()) {
				t.Fatal("Sign did not set the signer field")
			}
			if len(m.GetSignature()) != SignatureSize {
				t.Fatalf("signature length %d", len(m.GetSignature()))
			}
			if err := Verify(m, k.Public()); err != nil {
				t.Fatalf("valid message: %v", err)
			}
			if pk, err := VerifySigned(m); err != nil || pk != k.Public() {
				t.Fatalf("VerifySigned = %v, %v", pk, err)
			}
			if err := Verify(m, other.Public()); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("wrong key: err = %v, want ErrBadSignature", err)
			}

			// What the receiver sees after the wire still verifies.
			b, err := wire.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got := m.ProtoReflect().New().Interface().(Signed)
			if err := wire.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			if _, err := VerifySigned(got); err != nil {
				t.Fatalf("after the wire: %v", err)
			}

			for _, tc := range c.tampers {
				tm := proto.Clone(m).(Signed)
				tc.f(tm)
				if _, err := VerifySigned(tm); !errors.Is(err, ErrBadSignature) {
					t.Errorf("tampered %s: err = %v, want ErrBadSignature", tc.name, err)
				}
			}
		})
	}
}

func TestVerifySignedBadSigner(t *testing.T) {
	k := testKey(t, 1)
	for _, n := range []int{0, 31, 33} {
		m := samplePacketUp()
		if err := k.Sign(m); err != nil {
			t.Fatal(err)
		}
		m.Signer = make([]byte, n)
		if _, err := VerifySigned(m); !errors.Is(err, ErrBadPublicKey) {
			t.Fatalf("signer of %d bytes: err = %v, want ErrBadPublicKey", n, err)
		}
	}
}

func TestUnsignableMessages(t *testing.T) {
	k := testKey(t, 1)
	for _, m := range []proto.Message{
		&wire.PocReport{Report: &wire.PocReport_Beacon{Beacon: sampleBeaconReport()}},
		&wire.Window{Tmst: 1},
		&wire.Channel{Frequency: 1},
		&wire.HotspotStats{},
	} {
		if err := k.Sign(m); !errors.Is(err, ErrUnsignable) {
			t.Errorf("Sign(%T) = %v, want ErrUnsignable", m, err)
		}
		if err := Verify(m, k.Public()); !errors.Is(err, ErrUnsignable) {
			t.Errorf("Verify(%T) = %v, want ErrUnsignable", m, err)
		}
		if _, err := SigningBytes(m); !errors.Is(err, ErrUnsignable) {
			t.Errorf("SigningBytes(%T) = %v, want ErrUnsignable", m, err)
		}
	}
	// Sign must not touch a message it refuses.
	w := &wire.Window{Tmst: 1}
	_ = k.Sign(w)
	if !proto.Equal(w, &wire.Window{Tmst: 1}) {
		t.Fatal("Sign modified an unsignable message")
	}
}

// Every signable wire message signs and verifies, and its signing bytes are
// exactly the deterministic encoding with the signature cleared.
func TestSigningBytesAllMessages(t *testing.T) {
	k := testKey(t, 4)
	msgs := []Signed{
		samplePacketUp(),
		sampleBeaconReport(),
		&wire.PacketDown{Id: []byte{1}, Payload: []byte{2}, Rx1: &wire.Window{Tmst: 3, Frequency: 869_525_000, DataRate: "SF9BW125"}, Hotspot: k.Public().Bytes()},
		&wire.TxAck{Id: []byte{1}, Status: wire.TxStatus_TX_OK, Window: 1},
		&wire.WitnessReport{Data: []byte{9, 9}, Rssi: -110, Snr: -3.5, Region: wire.Region_US915},
		&wire.Entropy{Data: bytes.Repeat([]byte{7}, 32), Timestamp: 5, Version: 1},
		&wire.HotspotState{Online: true, Version: "1.0.0", Stats: &wire.HotspotStats{UplinksReceived: 5}},
		&wire.RegionParams{Region: wire.Region_AU915, Channels: []*wire.Channel{{Frequency: 915_200_000, BandwidthKhz: 125}}, MaxEirpDbm: 30},
		&wire.Release{Channel: "stable", Version: "1.4.2", ManifestSha256: bytes.Repeat([]byte{1}, 32)},
	}
	for _, m := range msgs {
		if err := k.Sign(m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		got, err := SigningBytes(m)
		if err != nil {
			t.Fatal(err)
		}
		c := proto.Clone(m)
		c.ProtoReflect().Clear(c.ProtoReflect().Descriptor().Fields().ByName("signature"))
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%T: SigningBytes differs from the encoding with the signature cleared", m)
		}
		if pk, err := VerifySigned(m); err != nil || pk != k.Public() {
			t.Fatalf("%T: VerifySigned = %v", m, err)
		}
	}
}

// Verification never writes to the message, so many goroutines may verify
// one shared message (run with -race to see it).
func TestVerifySharedMessageConcurrently(t *testing.T) {
	k := testKey(t, 1)
	m := samplePacketUp()
	if err := k.Sign(m); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := VerifySigned(m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestVerifyNilMessage(t *testing.T) {
	var m *wire.PacketUp
	if _, err := VerifySigned(m); err == nil {
		t.Fatal("nil message verified")
	}
	if err := Verify(m, testKey(t, 1).Public()); err == nil {
		t.Fatal("nil message verified")
	}
}

func TestSignBytes(t *testing.T) {
	k := testKey(t, 9)
	msg := []byte("hexnet")
	sig := k.SignBytes(msg)
	if !k.Public().Verify(msg, sig) {
		t.Fatal("own signature does not verify")
	}
	if k.Public().Verify([]byte("hexnef"), sig) {
		t.Fatal("signature verified for another message")
	}
	if k.Public().Verify(msg, sig[:63]) || k.Public().Verify(msg, append(sig, 0)) {
		t.Fatal("signature of the wrong length verified")
	}
}
