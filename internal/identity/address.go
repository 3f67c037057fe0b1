package identity

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/mr-tron/base58"
)

// Address is the base58check text form of a public key:
// base58(version ‖ key type ‖ public key ‖ first 4 bytes of SHA-256(SHA-256(version ‖ key type ‖ public key))).
type Address string

// Address encoding constants.
const (
	AddressVersion byte = 0x00 // the only address version so far
	KeyTypeEd25519 byte = 0x01 // ed25519 public key
)

// ErrBadAddress is returned for text that is not a valid hexnet address.
var ErrBadAddress = errors.New("identity: bad address")

// AddressOf encodes a public key as an address.
func AddressOf(pk PublicKey) Address {
	buf := make([]byte, 0, 2+PublicKeySize+4)
	buf = append(buf, AddressVersion, KeyTypeEd25519)
	buf = append(buf, pk[:]...)
	sum := checksum(buf)
	buf = append(buf, sum[:]...)
	return Address(base58.Encode(buf))
}

// ParseAddress decodes an address and checks its checksum, length, version and key type.
func ParseAddress(s string) (PublicKey, error) {
	var pk PublicKey
	if s == "" || len(s) > 64 {
		return pk, fmt.Errorf("%w: length %d", ErrBadAddress, len(s))
	}
	raw, err := base58.Decode(s)
	if err != nil {
		return pk, fmt.Errorf("%w: %v", ErrBadAddress, err)
	}
	if len(raw) != 2+PublicKeySize+4 {
		return pk, fmt.Errorf("%w: decoded length %d, want %d", ErrBadAddress, len(raw), 2+PublicKeySize+4)
	}
	body, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	want := checksum(body)
	if string(sum) != string(want[:]) {
		return pk, fmt.Errorf("%w: checksum mismatch", ErrBadAddress)
	}
	if body[0] != AddressVersion {
		return pk, fmt.Errorf("%w: version %#x", ErrBadAddress, body[0])
	}
	if body[1] != KeyTypeEd25519 {
		return pk, fmt.Errorf("%w: key type %#x", ErrBadAddress, body[1])
	}
	copy(pk[:], body[2:])
	return pk, nil
}

// PublicKey parses the address.
func (a Address) PublicKey() (PublicKey, error) { return ParseAddress(string(a)) }

// String returns the address text.
func (a Address) String() string { return string(a) }

func checksum(b []byte) [4]byte {
	h1 := sha256.Sum256(b)
	h2 := sha256.Sum256(h1[:])
	var out [4]byte
	copy(out[:], h2[:4])
	return out
}
