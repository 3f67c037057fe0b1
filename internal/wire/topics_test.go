package wire_test

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/hexnet/hexnet/internal/wire"
)

// An address-shaped hotspot segment (wire does not check addresses).
const addr = "1148qkjvkKX52JtwXiTBR7kc3Nc9xr7Q7ZD1ZuJ5ekmTk2xF5KnF"

// topicOf rebuilds a concrete topic from its parts.
func topicOf(p wire.Parsed) string {
	switch p.Kind {
	case wire.KindUp:
		return wire.UpTopic(p.Partition)
	case wire.KindPoC:
		return wire.PoCTopic(p.Partition)
	case wire.KindState:
		return wire.StateTopic(p.Address)
	case wire.KindDown:
		return wire.DownTopic(p.Address)
	case wire.KindTxAck:
		return wire.TxAckTopic(p.Address)
	case wire.KindConfig:
		return wire.ConfigTopic(p.Address)
	case wire.KindEntropy:
		return wire.EntropyTopic
	case wire.KindRelease:
		return wire.ReleaseTopic(p.Channel)
	}
	return ""
}

func TestTopicRoundTrip(t *testing.T) {
	var cases []wire.Parsed
	for p := range wire.Partitions {
		cases = append(cases, wire.Parsed{Kind: wire.KindUp, Partition: p}, wire.Parsed{Kind: wire.KindPoC, Partition: p})
	}
	for _, k := range []wire.Kind{wire.KindState, wire.KindDown, wire.KindTxAck, wire.KindConfig} {
		cases = append(cases, wire.Parsed{Kind: k, Address: addr})
	}
	cases = append(cases,
		wire.Parsed{Kind: wire.KindEntropy},
		wire.Parsed{Kind: wire.KindRelease, Channel: "stable"},
		wire.Parsed{Kind: wire.KindRelease, Channel: "beta"},
	)
	seen := map[wire.Kind]bool{}
	for _, want := range cases {
		topic := topicOf(want)
		got, err := wire.ParseTopic(topic)
		if err != nil {
			t.Fatalf("ParseTopic(%q): %v", topic, err)
		}
		if got != want {
			t.Fatalf("ParseTopic(%q) = %+v, want %+v", topic, got, want)
		}
		seen[got.Kind] = true
	}
	for k := wire.KindUp; k <= wire.KindRelease; k++ {
		if !seen[k] {
			t.Errorf("kind %d not covered", k)
		}
	}
}

// The literal topics of DESIGN.md §4.
func TestTopicSpelling(t *testing.T) {
	cases := map[string]string{
		wire.UpTopic(7):           "hexnet/v1/up/7",
		wire.PoCTopic(15):         "hexnet/v1/poc/15",
		wire.StateTopic(addr):     "hexnet/v1/hotspot/" + addr + "/state",
		wire.DownTopic(addr):      "hexnet/v1/hotspot/" + addr + "/down",
		wire.TxAckTopic(addr):     "hexnet/v1/hotspot/" + addr + "/txack",
		wire.ConfigTopic(addr):    "hexnet/v1/hotspot/" + addr + "/config",
		wire.ReleaseTopic("beta"): "hexnet/v1/release/beta",
		wire.EntropyTopic:         "hexnet/v1/entropy",
		wire.UpFilter:             "hexnet/v1/up/+",
		wire.PoCFilter:            "hexnet/v1/poc/+",
		wire.StateFilter:          "hexnet/v1/hotspot/+/state",
		wire.TxAckFilter:          "hexnet/v1/hotspot/+/txack",
		wire.ReleaseFilter:        "hexnet/v1/release/+",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("topic %q, want %q", got, want)
		}
	}
}

func TestParseTopicRejects(t *testing.T) {
	for _, topic := range []string{
		"",
		"hexnet",
		"hexnet/v1",
		"hexnet/v1/",
		"hexnet/v2/up/1",
		"Hexnet/v1/up/1",
		"/hexnet/v1/up/1",
		"xhexnet/v1/up/1",
		"hexnet/v1//up/1",
		"hexnet/v1/up",
		"hexnet/v1/up/",
		"hexnet/v1/up/16",
		"hexnet/v1/poc/16",
		"hexnet/v1/up/255",
		"hexnet/v1/up/01",
		"hexnet/v1/up/00",
		"hexnet/v1/up/-1",
		"hexnet/v1/up/-0",
		"hexnet/v1/up/+1",
		"hexnet/v1/up/ 1",
		"hexnet/v1/up/1 ",
		"hexnet/v1/up/0x1",
		"hexnet/v1/up/+",
		"hexnet/v1/up/#",
		"hexnet/v1/up/99999999999999999999999",
		"hexnet/v1/up/1/x",
		"hexnet/v1/poc/3/",
		"hexnet/v1/entropy/",
		"hexnet/v1/entropy/x",
		"hexnet/v1/release",
		"hexnet/v1/release/",
		"hexnet/v1/release/a/b",
		"hexnet/v1/hotspot",
		"hexnet/v1/hotspot/" + addr,
		"hexnet/v1/hotspot/" + addr + "/",
		"hexnet/v1/hotspot/" + addr + "/status",
		"hexnet/v1/hotspot/" + addr + "/State",
		"hexnet/v1/hotspot/" + addr + "/state/x",
		"hexnet/v1/hotspot//state",
		"hexnet/v1/down/" + addr,
		"hexnet/v1/unknown/1",
	} {
		if p, err := wire.ParseTopic(topic); err == nil {
			t.Errorf("ParseTopic(%q) = %+v, want an error", topic, p)
		}
	}
}

// Partition is the first byte of SHA-256 mod 16, values from the FIPS 180-2
// examples: SHA-256("") = e3b0…, SHA-256("abc") = ba78….
func TestPartitionKnown(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"", 0xe3 % 16},
		{"abc", 0xba % 16},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0x24 % 16}, // 248d6a61…
	}
	for _, c := range cases {
		if got := wire.Partition([]byte(c.in)); got != c.want {
			t.Errorf("Partition(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPartitionRange(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{'p'}))
	hits := make([]int, wire.Partitions)
	for i := range 4000 {
		b := make([]byte, 1+i%60)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		p := wire.Partition(b)
		if p < 0 || p >= wire.Partitions {
			t.Fatalf("Partition = %d, outside [0,%d)", p, wire.Partitions)
		}
		if h := sha256.Sum256(b); p != int(h[0])%16 {
			t.Fatalf("Partition(%x) = %d, want %d", b, p, h[0]%16)
		}
		hits[p]++
	}
	for p, n := range hits {
		// 250 expected per partition; a partition far off would route unevenly.
		if n < 150 || n > 350 {
			t.Errorf("partition %d got %d of 4000 inputs", p, n)
		}
	}
	// Topic and partition agree: every partition has a valid topic.
	for p := range wire.Partitions {
		if got, err := wire.ParseTopic(wire.UpTopic(p)); err != nil || got.Partition != p {
			t.Fatalf("UpTopic(%d) does not parse back: %v", p, err)
		}
		if !strings.HasSuffix(wire.PoCTopic(p), "/"+strconv.Itoa(p)) {
			t.Fatalf("PoCTopic(%d) = %q", p, wire.PoCTopic(p))
		}
	}
}

func TestParseTopicRejectsWildcardsAndJunkSegments(t *testing.T) {
	for _, topic := range []string{
		wire.Prefix + "hotspot/+/state",
		wire.Prefix + "hotspot/#/down",
		wire.Prefix + "hotspot/a b/state",
		wire.Prefix + "hotspot/a\x00b/state",
		wire.Prefix + "release/#",
		wire.Prefix + "release/+",
		wire.Prefix + "release/ch\u00e9",
		wire.Prefix + "hotspot/" + strings.Repeat("x", 65) + "/state",
	} {
		if _, err := wire.ParseTopic(topic); !errors.Is(err, wire.ErrBadTopic) {
			t.Errorf("wire.ParseTopic(%q) = %v, want wire.ErrBadTopic", topic, err)
		}
	}
}
