package identity

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Signed is a wire message with a signer public key and a signature (fields
// named "signer" and "signature" in internal/wire).
type Signed interface {
	proto.Message
	GetSigner() []byte
	GetSignature() []byte
}

// ErrUnsignable is returned for a message type without a bytes "signature" field.
var ErrUnsignable = errors.New("identity: message has no signature field")

var deterministic = proto.MarshalOptions{Deterministic: true}

// signatureField returns the descriptor of m's bytes field named "signature".
func signatureField(r protoreflect.Message) (protoreflect.FieldDescriptor, error) {
	fd := r.Descriptor().Fields().ByName("signature")
	if fd == nil || fd.Kind() != protoreflect.BytesKind || fd.Cardinality() == protoreflect.Repeated {
		return nil, fmt.Errorf("%w: %s", ErrUnsignable, r.Descriptor().FullName())
	}
	return fd, nil
}

// SigningBytes returns the bytes a signature covers: the deterministic
// protobuf encoding of m with its signature field empty. m is not modified,
// not even for a moment, so concurrent verifiers may share one message.
func SigningBytes(m proto.Message) ([]byte, error) {
	fd, err := signatureField(m.ProtoReflect())
	if err != nil {
		return nil, err
	}
	b, err := deterministic.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("identity: marshal for signing: %w", err)
	}
	return stripField(b, fd.Number())
}

// stripField removes every top-level record of field num from a protobuf
// encoding. A deterministic encoding without those records is byte for byte
// the deterministic encoding of the message with that field empty.
func stripField(b []byte, num protowire.Number) ([]byte, error) {
	out := b[:0:0]
	for rest := b; len(rest) > 0; {
		n, typ, tagLen := protowire.ConsumeTag(rest)
		if tagLen < 0 {
			return nil, fmt.Errorf("identity: marshal for signing: %w", protowire.ParseError(tagLen))
		}
		valLen := protowire.ConsumeFieldValue(n, typ, rest[tagLen:])
		if valLen < 0 {
			return nil, fmt.Errorf("identity: marshal for signing: %w", protowire.ParseError(valLen))
		}
		if n != num {
			out = append(out, rest[:tagLen+valLen]...)
		}
		rest = rest[tagLen+valLen:]
	}
	return out, nil
}

// Sign sets m's signer field (when it has one) to k's public key and its
// signature field to k's signature over SigningBytes(m).
func (k *Key) Sign(m proto.Message) error {
	r := m.ProtoReflect()
	sigFD, err := signatureField(r)
	if err != nil {
		return err
	}
	if fd := r.Descriptor().Fields().ByName("signer"); fd != nil && fd.Kind() == protoreflect.BytesKind && fd.Cardinality() != protoreflect.Repeated {
		r.Set(fd, protoreflect.ValueOfBytes(k.pub.Bytes()))
	}
	b, err := SigningBytes(m)
	if err != nil {
		return err
	}
	r.Set(sigFD, protoreflect.ValueOfBytes(k.SignBytes(b)))
	return nil
}

// Verify checks m's signature against pk.
func Verify(m proto.Message, pk PublicKey) error {
	sig, b, err := signatureAndBytes(m)
	if err != nil {
		return err
	}
	if !pk.Verify(b, sig) {
		return ErrBadSignature
	}
	return nil
}

// VerifySigned checks m's signature against the public key in its own signer
// field and returns that key. Callers still decide whether the signer is
// allowed to send m (a known hotspot, the router, the oracle).
func VerifySigned(m Signed) (PublicKey, error) {
	pk, err := PublicKeyFromBytes(m.GetSigner())
	if err != nil {
		return pk, err
	}
	if err := Verify(m, pk); err != nil {
		return pk, err
	}
	return pk, nil
}

// signatureAndBytes returns m's signature and the bytes it covers.
func signatureAndBytes(m proto.Message) (sig, signed []byte, err error) {
	r := m.ProtoReflect()
	fd, err := signatureField(r)
	if err != nil {
		return nil, nil, err
	}
	signed, err = SigningBytes(m)
	if err != nil {
		return nil, nil, err
	}
	return r.Get(fd).Bytes(), signed, nil
}
