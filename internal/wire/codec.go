// Package wire holds hexnet's protobuf wire messages (wire.proto, generated
// into wire.pb.go), their size-checked codec, and the MQTT topics of
// DESIGN.md §4 with the partition function.
package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// MaxMessageSize is the largest encoded message accepted from the wire.
const MaxMessageSize = 4096

// Sentinel errors of the codec.
var (
	ErrOversize  = errors.New("wire: message too large")
	ErrEmpty     = errors.New("wire: empty message")
	ErrMalformed = errors.New("wire: malformed message")
)

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// Marshal encodes m deterministically and refuses a result over MaxMessageSize.
// A message with every field at its default encodes to zero bytes, which
// Unmarshal refuses (ErrEmpty): every wire message carries at least a signer.
func Marshal(m proto.Message) ([]byte, error) {
	b, err := marshalOpts.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal %T: %w", m, err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrOversize, len(b), MaxMessageSize)
	}
	return b, nil
}

// Unmarshal decodes b into m. It refuses an empty or oversize input before
// decoding, and unknown fields are discarded so they cannot ride along under
// a signature.
func Unmarshal(b []byte, m proto.Message) error {
	if len(b) == 0 {
		return ErrEmpty
	}
	if len(b) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes > %d", ErrOversize, len(b), MaxMessageSize)
	}
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %T: %v", ErrMalformed, m, err)
	}
	return nil
}
