package wire

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Topic prefix and partition count of DESIGN.md §4.
const (
	Prefix     = "hexnet/v1/"
	Partitions = 16
)

// Topic filters the network side subscribes to.
const (
	UpFilter      = Prefix + "up/+"
	PoCFilter     = Prefix + "poc/+"
	StateFilter   = Prefix + "hotspot/+/state"
	TxAckFilter   = Prefix + "hotspot/+/txack"
	EntropyTopic  = Prefix + "entropy"
	ReleaseFilter = Prefix + "release/+"
)

// Partition returns the partition of a payload: the first byte of its SHA-256, mod 16.
// Uplinks partition on the PHYPayload, PoC reports on the beacon data.
func Partition(data []byte) int {
	h := sha256.Sum256(data)
	return int(h[0]) % Partitions
}

// UpTopic is hexnet/v1/up/{p}.
func UpTopic(p int) string { return Prefix + "up/" + strconv.Itoa(p) }

// PoCTopic is hexnet/v1/poc/{p}.
func PoCTopic(p int) string { return Prefix + "poc/" + strconv.Itoa(p) }

// StateTopic is hexnet/v1/hotspot/{addr}/state.
func StateTopic(addr string) string { return Prefix + "hotspot/" + addr + "/state" }

// DownTopic is hexnet/v1/hotspot/{addr}/down.
func DownTopic(addr string) string { return Prefix + "hotspot/" + addr + "/down" }

// TxAckTopic is hexnet/v1/hotspot/{addr}/txack: the hotspot's report on a downlink.
func TxAckTopic(addr string) string { return Prefix + "hotspot/" + addr + "/txack" }

// ConfigTopic is hexnet/v1/hotspot/{addr}/config.
func ConfigTopic(addr string) string { return Prefix + "hotspot/" + addr + "/config" }

// ReleaseTopic is hexnet/v1/release/{channel}.
func ReleaseTopic(channel string) string { return Prefix + "release/" + channel }

// Kind names what a topic carries.
type Kind int

// Topic kinds.
const (
	KindUnknown Kind = iota
	KindUp
	KindPoC
	KindState
	KindDown
	KindTxAck
	KindConfig
	KindEntropy
	KindRelease
)

// Parsed is a topic taken apart.
type Parsed struct {
	Kind      Kind
	Partition int    // up, poc
	Address   string // hotspot topics
	Channel   string // release
}

// ErrBadTopic is returned for a topic that is not one of DESIGN.md §4's.
var ErrBadTopic = errors.New("wire: bad topic")

// validSegment reports whether a variable topic segment (an address or a
// release channel) is plain text: no MQTT wildcards, separators, spaces or
// control characters, at most 64 bytes.
func validSegment(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '+' || r == '#' || r == '/' || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}

// ParseTopic takes a concrete topic (no wildcards) apart.
func ParseTopic(t string) (Parsed, error) {
	rest, ok := strings.CutPrefix(t, Prefix)
	if !ok {
		return Parsed{}, fmt.Errorf("%w: %q lacks prefix %q", ErrBadTopic, t, Prefix)
	}
	// Every message a broker or service handles passes here: no allocation
	// on the way to a valid topic (the error is built only when returned).
	first, rest, two := strings.Cut(rest, "/")
	second, third, three := strings.Cut(rest, "/")
	switch {
	case first == "entropy" && !two:
		return Parsed{Kind: KindEntropy}, nil
	case (first == "up" || first == "poc") && two && !three:
		p, err := strconv.Atoi(second)
		if err != nil || p < 0 || p >= Partitions || strconv.Itoa(p) != second {
			return Parsed{}, fmt.Errorf("%w: bad partition in %q", ErrBadTopic, t)
		}
		k := KindUp
		if first == "poc" {
			k = KindPoC
		}
		return Parsed{Kind: k, Partition: p}, nil
	case first == "release" && two && !three && validSegment(second):
		return Parsed{Kind: KindRelease, Channel: second}, nil
	case first == "hotspot" && three && !strings.Contains(third, "/") && validSegment(second):
		var k Kind
		switch third {
		case "state":
			k = KindState
		case "down":
			k = KindDown
		case "txack":
			k = KindTxAck
		case "config":
			k = KindConfig
		}
		if k != KindUnknown {
			return Parsed{Kind: k, Address: second}, nil
		}
	}
	return Parsed{}, fmt.Errorf("%w: unknown topic %q", ErrBadTopic, t)
}
