package identity

import (
	"errors"
	"strings"
	"testing"

	"github.com/mr-tron/base58"
)

// encodeRaw builds an address-like string from arbitrary parts with a correct checksum.
func encodeRaw(parts ...[]byte) string {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	sum := checksum(body)
	return base58.Encode(append(body, sum[:]...))
}

func TestAddressRoundTrip(t *testing.T) {
	for i := range 64 {
		k := testKey(t, byte(i))
		a := k.Address()
		if a != k.Public().Address() || a.String() != k.Public().String() {
			t.Fatalf("key %d: address forms disagree", i)
		}
		pk, err := ParseAddress(string(a))
		if err != nil {
			t.Fatalf("key %d: ParseAddress(%q): %v", i, a, err)
		}
		if pk != k.Public() {
			t.Fatalf("key %d: round trip gave a different key", i)
		}
		pk2, err := a.PublicKey()
		if err != nil || pk2 != pk {
			t.Fatalf("key %d: Address.PublicKey = %v, %v", i, pk2, err)
		}
	}
}

func TestAddressKnownEncoding(t *testing.T) {
	// An all-zero key pins the layout: version 0 is one leading '1'.
	var zero PublicKey
	a := AddressOf(zero)
	want := encodeRaw([]byte{AddressVersion, KeyTypeEd25519}, zero[:])
	if string(a) != want {
		t.Fatalf("AddressOf(zero) = %q, want %q", a, want)
	}
	if !strings.HasPrefix(string(a), "1") {
		t.Fatalf("address %q does not start with the version-0 digit '1'", a)
	}
}

func TestParseAddressRejects(t *testing.T) {
	pk := testKey(t, 7).Public()
	good := string(pk.Address())
	raw, err := base58.Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	badSum := append([]byte(nil), raw...)
	badSum[len(badSum)-1] ^= 0x01
	flipped := append([]byte(nil), raw...)
	flipped[10] ^= 0x80 // key byte changed, checksum kept

	cases := []struct {
		name, in string
	}{
		{"empty", ""},
		{"bad checksum", base58.Encode(badSum)},
		{"key changed under checksum", base58.Encode(flipped)},
		{"short key", encodeRaw([]byte{AddressVersion, KeyTypeEd25519}, pk[:31])},
		{"long key", encodeRaw([]byte{AddressVersion, KeyTypeEd25519}, pk[:], []byte{0})},
		{"no checksum", base58.Encode(raw[:len(raw)-4])},
		{"wrong version", encodeRaw([]byte{0x01, KeyTypeEd25519}, pk[:])},
		{"wrong key type", encodeRaw([]byte{AddressVersion, 0x02}, pk[:])},
		{"ecdsa key type", encodeRaw([]byte{AddressVersion, 0x00}, pk[:])},
		{"non-base58 zero", "0" + good[1:]},
		{"non-base58 capital O", good[:5] + "O" + good[6:]},
		{"non-base58 l", good[:5] + "l" + good[6:]},
		{"space", good + " "},
		{"leading one", "1" + good},
		{"truncated", good[:len(good)-1]},
		{"too long", strings.Repeat("z", 65)},
		{"non-ascii", good[:10] + "é" + good[12:]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAddress(c.in)
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("ParseAddress(%q) = %v, %v; want ErrBadAddress", c.in, got, err)
			}
			if got != (PublicKey{}) {
				t.Fatalf("ParseAddress(%q) returned a key with its error", c.in)
			}
		})
	}
}

func TestPublicKeyFromBytes(t *testing.T) {
	pk := testKey(t, 1).Public()
	got, err := PublicKeyFromBytes(pk.Bytes())
	if err != nil || got != pk {
		t.Fatalf("PublicKeyFromBytes = %v, %v", got, err)
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := PublicKeyFromBytes(make([]byte, n)); !errors.Is(err, ErrBadPublicKey) {
			t.Fatalf("length %d: err = %v, want ErrBadPublicKey", n, err)
		}
	}
	b := pk.Bytes()
	b[0] ^= 0xff
	if pk.Bytes()[0] == b[0] {
		t.Fatal("Bytes returned the key's own storage")
	}
}
