package wire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// signerField is the field number of every message's signer (wire.proto).
const signerField = 14

// SignerOf returns the signer a message published on a topic of kind k
// names, reading only the fields on the way: a PacketUp's for KindUp, the
// beacon's or witness's inside a PocReport for KindPoC, the message's own
// field 14 otherwise. It follows protobuf's decoding rules (the last value
// of a field wins, repeated embedded messages merge, a oneof takes its
// last case, a field of the wrong wire type is unknown), so whenever
// Unmarshal accepts b, SignerOf returns exactly the decoded GetSigner().
// It checks no signature; the broker uses it to refuse a hotspot's publish
// of a message in another hotspot's name. An empty result means no signer.
func SignerOf(k Kind, b []byte) ([]byte, error) {
	if k != KindPoC {
		return lastBytes(b, signerField)
	}
	var signer []byte
	var current protowire.Number
	err := eachBytesField(b, func(num protowire.Number, v []byte) error {
		if num != 1 && num != 2 {
			return nil
		}
		if num != current { // switching the oneof's case starts a new message
			current, signer = num, nil
		}
		s, err := lastBytes(v, signerField)
		if err != nil {
			return err
		}
		if s != nil { // merged into the same message: a later signer wins
			signer = s
		}
		return nil
	})
	return signer, err
}

// lastBytes returns the last value of the bytes field num in message b
// (nil when absent), after checking that b is well formed.
func lastBytes(b []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	err := eachBytesField(b, func(n protowire.Number, v []byte) error {
		if n == num {
			out = v
		}
		return nil
	})
	return out, err
}

// eachBytesField calls fn with every length-delimited field of message b in
// order, skipping the others, and fails on a malformed encoding.
func eachBytesField(b []byte, fn func(num protowire.Number, v []byte) error) error {
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		rest = rest[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(rest)
			if m < 0 {
				return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
			}
			rest = rest[m:]
			if err := fn(num, v); err != nil {
				return err
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, rest)
		if m < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(m))
		}
		rest = rest[m:]
	}
	return nil
}
