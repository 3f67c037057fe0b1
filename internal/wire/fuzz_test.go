package wire_test

import (
	"errors"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
	"google.golang.org/protobuf/proto"
)

// checkDecoder asserts the codec's contract for any input: a sentinel error,
// or a message that re-encodes within the limit and decodes to itself.
func checkDecoder(t *testing.T, b []byte, newMsg func() proto.Message) {
	m := newMsg()
	err := wire.Unmarshal(b, m)
	if err != nil {
		if !errors.Is(err, wire.ErrEmpty) && !errors.Is(err, wire.ErrOversize) && !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("Unmarshal error %v is none of the codec's sentinels", err)
		}
		return
	}
	if len(b) == 0 || len(b) > wire.MaxMessageSize {
		t.Fatalf("Unmarshal accepted %d bytes", len(b))
	}
	out, err := wire.Marshal(m)
	if err != nil {
		// Decoding drops unknown fields and re-encoding is minimal, so the
		// result is never larger than the accepted input.
		t.Fatalf("re-encoding a decoded message: %v", err)
	}
	if len(out) == 0 {
		return // an all-default message encodes to nothing, which Unmarshal refuses as empty
	}
	again := newMsg()
	if err := wire.Unmarshal(out, again); err != nil {
		t.Fatalf("decoding the re-encoding: %v", err)
	}
	if !proto.Equal(m, again) {
		t.Fatalf("decode(encode(m)) != m:\n%v\n%v", m, again)
	}
}

func FuzzUnmarshalPocReport(f *testing.F) {
	for _, name := range []string{"PocReport/beacon", "PocReport/witness"} {
		b, err := wire.Marshal(samples()[name])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecoder(t, b, func() proto.Message { return &wire.PocReport{} })
	})
}

func FuzzUnmarshalPacketUp(f *testing.F) {
	b, err := wire.Marshal(samples()["PacketUp"])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0x3a, 0x02, 0xff, 0xfe})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecoder(t, b, func() proto.Message { return &wire.PacketUp{} })
	})
}

// FuzzParseTopic: a topic either fails to parse or is exactly the topic its
// parts build (one spelling per topic).
func FuzzParseTopic(f *testing.F) {
	f.Add(wire.UpTopic(3))
	f.Add(wire.StateTopic(addr))
	f.Add(wire.EntropyTopic)
	f.Add("hexnet/v1/up/01")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := wire.ParseTopic(s)
		if err != nil {
			return
		}
		if p.Kind == wire.KindUnknown {
			t.Fatalf("ParseTopic(%q) returned KindUnknown without an error", s)
		}
		if (p.Kind == wire.KindUp || p.Kind == wire.KindPoC) && (p.Partition < 0 || p.Partition >= wire.Partitions) {
			t.Fatalf("ParseTopic(%q) partition %d", s, p.Partition)
		}
		if got := topicOf(p); got != s {
			t.Fatalf("ParseTopic(%q) = %+v, which builds %q", s, p, got)
		}
	})
}
