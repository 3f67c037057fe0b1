// Package identity holds hexnet's ed25519 keys, their base58check addresses,
// their three-word names, key files, and the signing rule for wire messages.
//
// A signature covers the deterministic protobuf encoding of a message with its
// signature field empty (SigningBytes); Key.Sign fills the signer and
// signature fields, Verify and VerifySigned check them.
//
// All verification in hexnet goes through this package and uses one
// acceptance rule: ZIP-215 (cofactored verification, non-canonical and
// small-order points accepted, S must be canonical) as implemented by
// github.com/oasisprotocol/curve25519-voi. Signing is plain RFC 8032, so
// signatures made by any standard implementation verify. The rule is the same
// on every path: PublicKey.Verify, ExpandedKey.Verify (a key with precomputed
// tables, kept in a KeyCache for frequent signers) and Batch (many signatures
// at once, with per-entry results). A signature is never valid on one path and
// invalid on another.
//
// Why voi: verification is the network's hottest path. Thread CPU time per
// signature on amd64 (BenchmarkVerify, best of 6 on a shared 2-core EPYC VM):
// crypto/ed25519 66 µs; voi ZIP-215 38 µs (1.7×); voi with an expanded key
// 32 µs (2.0×); voi batch of 256 19 µs (3.5×), 15 µs with expanded keys
// (4.4×); batch of 64 with expanded keys 17 µs (3.9×). A batch holding one
// bad signature falls back to one-by-one checks and costs about 47 µs per
// signature.
package identity

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// PublicKeySize is the length of an ed25519 public key in bytes.
const PublicKeySize = ed25519.PublicKeySize

// SignatureSize is the length of an ed25519 signature in bytes.
const SignatureSize = ed25519.SignatureSize

// SeedSize is the length of the private key seed kept in key files.
const SeedSize = ed25519.SeedSize

// Sentinel errors returned by this package.
var (
	ErrBadSignature = errors.New("identity: bad signature")
	ErrBadPublicKey = errors.New("identity: bad public key")
	ErrWeakKey      = errors.New("identity: weak public key")
)

// verifyOptions is the single acceptance rule of hexnet (see the package doc).
var verifyOptions = &ed25519.Options{Verify: ed25519.VerifyOptionsZIP_215}

// PublicKey is an ed25519 public key.
type PublicKey [PublicKeySize]byte

// PublicKeyFromBytes checks the length of b and returns it as a PublicKey.
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	var pk PublicKey
	if len(b) != PublicKeySize {
		return pk, fmt.Errorf("%w: length %d, want %d", ErrBadPublicKey, len(b), PublicKeySize)
	}
	copy(pk[:], b)
	return pk, nil
}

// Bytes returns the key as a fresh slice.
func (pk PublicKey) Bytes() []byte { return append([]byte(nil), pk[:]...) }

// Address returns the key's base58check address.
func (pk PublicKey) Address() Address { return AddressOf(pk) }

// Name returns the key's deterministic three-word name.
func (pk PublicKey) Name() string { return Name(pk) }

// String returns the key's address.
func (pk PublicKey) String() string { return string(pk.Address()) }

// Verify reports whether sig is a valid signature of msg by pk.
func (pk PublicKey) Verify(msg, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	return ed25519.VerifyWithOptions(ed25519.PublicKey(pk[:]), msg, sig, verifyOptions)
}

// Check reports whether pk is fit to be registered as an actor's key: the
// canonical encoding of a curve point outside the small-order subgroup.
// Anyone can forge a signature by a small-order key for any message (under
// ZIP-215 and under crypto/ed25519 alike), so onboarding and registration must
// call Check. Verification does not: it keeps the one acceptance rule, and a
// key that passed Check at registration needs nothing more.
func (pk PublicKey) Check() error {
	var c curve.CompressedEdwardsY
	copy(c[:], pk[:])
	var p curve.EdwardsPoint
	if _, err := p.SetCompressedY(&c); err != nil {
		return fmt.Errorf("%w: not a curve point", ErrBadPublicKey)
	}
	if !c.IsCanonicalVartime() {
		return fmt.Errorf("%w: non-canonical encoding", ErrWeakKey)
	}
	if p.IsSmallOrder() {
		return fmt.Errorf("%w: small-order point", ErrWeakKey)
	}
	return nil
}

// Key is an ed25519 private key with its public key.
type Key struct {
	priv ed25519.PrivateKey
	pub  PublicKey
}

// Generate creates a new key from crypto/rand.
func Generate() (*Key, error) { return GenerateFrom(rand.Reader) }

// GenerateFrom creates a new key reading its seed from r (deterministic keys in tests and the simulator).
func GenerateFrom(r io.Reader) (*Key, error) {
	seed := make([]byte, SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("identity: read seed: %w", err)
	}
	return FromSeed(seed)
}

// FromSeed builds a key from a 32-byte seed.
func FromSeed(seed []byte) (*Key, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("identity: seed length %d, want %d", len(seed), SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	k := &Key{priv: priv}
	copy(k.pub[:], priv[SeedSize:])
	return k, nil
}

// Seed returns the 32-byte seed of the key.
func (k *Key) Seed() []byte { return k.priv.Seed() }

// Public returns the public key.
func (k *Key) Public() PublicKey { return k.pub }

// Address returns the address of the public key.
func (k *Key) Address() Address { return k.pub.Address() }

// SignBytes signs msg.
func (k *Key) SignBytes(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }
