package identity

import (
	"bytes"
	"testing"
)

// testKey returns a deterministic key whose seed is 32 copies of b.
func testKey(t testing.TB, b byte) *Key {
	t.Helper()
	k, err := FromSeed(bytes.Repeat([]byte{b}, SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
