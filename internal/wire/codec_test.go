package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
func sig(b byte) []byte { return bytes.Repeat([]byte{b}, 64) }

// samples holds one message of every type in wire.proto with every field set
// (PocReport once per oneof case).
func samples() map[string]proto.Message {
	beacon := &wire.BeaconReport{
		Entropy: key(0xe1), EntropyTimestamp: 1_790_000_000, LocalEntropy: []byte{1, 2, 3, 4},
		Data: bytes.Repeat([]byte{0x5a}, 51), Frequency: 867_500_000, DataRate: "SF12BW125",
		TxPowerDbm: -3, Tmst: 42, TimestampMs: 1_790_000_000_123, Region: wire.Region_EU868,
		Signer: key(1), Signature: sig(2),
	}
	witness := &wire.WitnessReport{
		Data: bytes.Repeat([]byte{0x5a}, 51), Rssi: -118.5, Snr: -12.25, Frequency: 867_500_000,
		DataRate: "SF12BW125", Tmst: 4_000_000_000, GpsTimeUs: 1_400_000_000_000_000,
		TimestampMs: 1_790_000_000_456, Region: wire.Region_AS923_3, Signer: key(3), Signature: sig(4),
	}
	window := func(f uint64) *wire.Window {
		return &wire.Window{Tmst: 1_000_000, Frequency: f, DataRate: "SF9BW125", Immediate: true}
	}
	return map[string]proto.Message{
		"PacketUp": &wire.PacketUp{
			Payload: []byte{0x40, 1, 2, 3, 4, 0x80, 1, 0, 1, 0xaa}, Tmst: 123456789, GpsTimeUs: 1_400_000_000_000_000,
			Rssi: -97.5, Snr: 7.25, Frequency: 868_100_000, DataRate: "SF7BW125", Region: wire.Region_EU868,
			ReceivedAtMs: 1_790_000_000_000, CodingRate: "4/5", Signer: key(5), Signature: sig(6),
		},
		"Window": window(869_525_000),
		"PacketDown": &wire.PacketDown{
			Id: []byte("down-1"), Payload: []byte{0x60, 1, 2}, Rx1: window(868_100_000), Rx2: window(869_525_000),
			PowerDbm: 14, Hotspot: key(7), IssuedAtMs: 1_790_000_000_001, Signer: key(8), Signature: sig(9),
		},
		"TxAck": &wire.TxAck{
			Id: []byte("down-1"), Status: wire.TxStatus_TX_COLLISION_BEACON, Window: 2, ReportedAtMs: 17,
			Signer: key(10), Signature: sig(11),
		},
		"BeaconReport":      beacon,
		"WitnessReport":     witness,
		"PocReport/beacon":  &wire.PocReport{Report: &wire.PocReport_Beacon{Beacon: beacon}},
		"PocReport/witness": &wire.PocReport{Report: &wire.PocReport_Witness{Witness: witness}},
		"Entropy": &wire.Entropy{
			Data: key(12), Timestamp: 1_790_000_060, Previous: key(13), Version: 1, Signer: key(14), Signature: sig(15),
		},
		"HotspotStats": &wire.HotspotStats{
			UplinksReceived: 1, UplinksForwarded: 2, UplinksBadCrc: 3, QueueDepth: 4, QueueDropped: 5,
			BeaconsSent: 6, WitnessesSent: 7, DownlinksSent: 8, MalformedDatagrams: 9,
		},
		"HotspotState": &wire.HotspotState{
			Online: true, TimestampMs: 99, Version: "1.4.2", Region: wire.Region_KR920, ForwarderConnected: true,
			Stats: &wire.HotspotStats{UplinksReceived: 10}, Signer: key(16), Signature: sig(17),
		},
		"Channel": &wire.Channel{Frequency: 915_200_000, BandwidthKhz: 125},
		"RegionParams": &wire.RegionParams{
			Region: wire.Region_US915, Channels: []*wire.Channel{{Frequency: 902_300_000, BandwidthKhz: 125}, {Frequency: 903_000_000, BandwidthKhz: 500}},
			MaxEirpDbm: 30, AntennaGainDbiX10: 25, IssuedAtMs: 5, Hotspot: key(18), Signer: key(19), Signature: sig(20),
		},
		"Release": &wire.Release{
			Channel: "stable", Version: "1.4.2", ManifestUrl: "https://example.org/hexnet/1.4.2/manifest.json",
			ManifestSha256: key(21), PublishedAtMs: 6, Signer: key(22), Signature: sig(23),
		},
	}
}

// The samples cover every message of wire.proto, each with every field set,
// so the round trip below exercises every field.
func TestSamplesCoverEveryMessageAndField(t *testing.T) {
	covered := map[protoreflect.FullName]bool{}
	oneofCases := map[protoreflect.FullName]bool{}
	for name, m := range samples() {
		r := m.ProtoReflect()
		covered[r.Descriptor().FullName()] = true
		fields := r.Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if fd.ContainingOneof() != nil {
				if r.Has(fd) {
					oneofCases[fd.FullName()] = true
				}
				continue
			}
			if !r.Has(fd) {
				t.Errorf("sample %s leaves field %s unset", name, fd.Name())
			}
		}
	}
	msgs := wire.File_wire_proto.Messages()
	for i := range msgs.Len() {
		md := msgs.Get(i)
		if !covered[md.FullName()] {
			t.Errorf("no sample of %s", md.FullName())
		}
		for j := range md.Fields().Len() {
			if fd := md.Fields().Get(j); fd.ContainingOneof() != nil && !oneofCases[fd.FullName()] {
				t.Errorf("no sample sets oneof case %s", fd.FullName())
			}
		}
	}
}

func TestRoundTripEveryMessage(t *testing.T) {
	for name, m := range samples() {
		t.Run(name, func(t *testing.T) {
			b, err := wire.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			again, err := wire.Marshal(m)
			if err != nil || !bytes.Equal(b, again) {
				t.Fatal("Marshal is not deterministic")
			}
			got := m.ProtoReflect().New().Interface()
			if err := wire.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(m, got) {
				t.Fatalf("round trip changed the message:\n got %v\nwant %v", got, m)
			}
		})
	}
}

func TestMarshalOversize(t *testing.T) {
	m := &wire.PacketUp{Payload: make([]byte, wire.MaxMessageSize)}
	if _, err := wire.Marshal(m); !errors.Is(err, wire.ErrOversize) {
		t.Fatalf("Marshal of %d-byte payload: err = %v, want ErrOversize", len(m.Payload), err)
	}
}

// packetUpOfSize returns the encoding of a PacketUp whose total size is exactly n
// bytes (n ≥ 3), using the payload field.
func packetUpOfSize(t *testing.T, n int) []byte {
	t.Helper()
	for l := n - 2; l >= 0; l-- {
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, make([]byte, l))
		if len(b) == n {
			return b
		}
	}
	t.Fatalf("no PacketUp of %d bytes", n)
	return nil
}

func TestUnmarshalSizeLimit(t *testing.T) {
	// Exactly the limit decodes.
	at := packetUpOfSize(t, wire.MaxMessageSize)
	var m wire.PacketUp
	if err := wire.Unmarshal(at, &m); err != nil {
		t.Fatalf("%d bytes: %v", len(at), err)
	}
	if len(m.Payload) != len(at)-3 {
		t.Fatalf("payload %d bytes", len(m.Payload))
	}
	// One over is refused even though it is a valid encoding.
	over := packetUpOfSize(t, wire.MaxMessageSize+1)
	if err := wire.Unmarshal(over, &m); !errors.Is(err, wire.ErrOversize) {
		t.Fatalf("%d valid bytes: err = %v, want ErrOversize", len(over), err)
	}
	// Oversize garbage is refused as oversize, not as malformed: the size is
	// checked before any decoding.
	garbage := bytes.Repeat([]byte{0xff}, wire.MaxMessageSize+1)
	if err := wire.Unmarshal(garbage, &m); !errors.Is(err, wire.ErrOversize) || errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("oversize garbage: err = %v, want ErrOversize only", err)
	}
	if err := wire.Unmarshal(make([]byte, 1<<20), &wire.PocReport{}); !errors.Is(err, wire.ErrOversize) {
		t.Fatalf("1 MiB: err = %v", err)
	}
}

func TestUnmarshalEmpty(t *testing.T) {
	for _, b := range [][]byte{nil, {}} {
		if err := wire.Unmarshal(b, &wire.PocReport{}); !errors.Is(err, wire.ErrEmpty) {
			t.Fatalf("Unmarshal(%v) = %v, want ErrEmpty", b, err)
		}
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
	}{
		{"all ones", bytes.Repeat([]byte{0xff}, 16)},
		{"truncated varint", []byte{0x10, 0x80}},
		{"truncated bytes", []byte{0x0a, 0x05, 0x01}},
		{"length overflows", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"field number zero", []byte{0x00, 0x01}},
		{"end group without start", []byte{0x0c}},
		{"reserved wire type", []byte{0x0e}},
		{"string not utf-8", []byte{0x3a, 0x02, 0xff, 0xfe}}, // data_rate = "\xff\xfe"
		{"truncated fixed32", []byte{0x25, 0x00, 0x00}},      // rssi
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m wire.PacketUp
			if err := wire.Unmarshal(c.b, &m); !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("Unmarshal(%x) = %v, want ErrMalformed", c.b, err)
			}
		})
	}
	// Inside a PocReport the nested message is checked as well.
	bad := protowire.AppendTag(nil, 1, protowire.BytesType)
	bad = protowire.AppendBytes(bad, []byte{0x0a, 0x09, 0x01})
	if err := wire.Unmarshal(bad, &wire.PocReport{}); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("malformed nested beacon: err = %v, want ErrMalformed", err)
	}
}

// Unknown fields are dropped on decoding, so they cannot ride along under a
// signature into storage or onward messages.
func TestUnmarshalDropsUnknownFields(t *testing.T) {
	m := samples()["PacketUp"].(*wire.PacketUp)
	b, err := wire.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	extra := protowire.AppendTag(bytes.Clone(b), 13, protowire.BytesType)
	extra = protowire.AppendBytes(extra, []byte("smuggled"))
	var got wire.PacketUp
	if err := wire.Unmarshal(extra, &got); err != nil {
		t.Fatal(err)
	}
	again, err := wire.Marshal(&got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Fatal("an unknown field survived decoding")
	}
}
