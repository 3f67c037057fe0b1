package identity

import (
	"errors"
	"fmt"

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

// SigningBytes returns the bytes a signature covers: the deterministic
// protobuf encoding of m with its signature field empty. m is not modified.
func SigningBytes(m proto.Message) ([]byte, error) {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("signature")
	if fd == nil || fd.Kind() != protoreflect.BytesKind {
		return nil, fmt.Errorf("%w: %s", ErrUnsignable, r.Descriptor().FullName())
	}
	if !r.Has(fd) {
		return deterministic.Marshal(m)
	}
	sig := r.Get(fd)
	r.Clear(fd)
	b, err := deterministic.Marshal(m)
	r.Set(fd, sig)
	if err != nil {
		return nil, fmt.Errorf("identity: marshal for signing: %w", err)
	}
	return b, nil
}

// Sign sets m's signer field (when it has one) to k's public key and its
// signature field to k's signature over SigningBytes(m).
func (k *Key) Sign(m proto.Message) error {
	r := m.ProtoReflect()
	if fd := r.Descriptor().Fields().ByName("signer"); fd != nil && fd.Kind() == protoreflect.BytesKind {
		r.Set(fd, protoreflect.ValueOfBytes(k.pub.Bytes()))
	}
	b, err := SigningBytes(m)
	if err != nil {
		return err
	}
	sigFD := r.Descriptor().Fields().ByName("signature")
	r.Set(sigFD, protoreflect.ValueOfBytes(k.SignBytes(b)))
	return nil
}

// Verify checks m's signature against pk.
func Verify(m proto.Message, pk PublicKey) error {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("signature")
	if fd == nil || fd.Kind() != protoreflect.BytesKind {
		return fmt.Errorf("%w: %s", ErrUnsignable, r.Descriptor().FullName())
	}
	sig := r.Get(fd).Bytes()
	b, err := SigningBytes(m)
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
