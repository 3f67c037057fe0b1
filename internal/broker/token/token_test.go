package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
)

func key(t testing.TB, b byte) *identity.Key {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerify(t *testing.T) {
	k, other := key(t, 1), key(t, 2)
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	user := string(k.Address())
	good := Password(k, now)
	flip := []byte(good)
	flip[len(flip)-1] ^= 1 // still hex ('0'..'f' ^ 1 stays a hex digit except for 'f'/'g')
	if flip[len(flip)-1] == 'g' {
		flip[len(flip)-1] = 'e'
	}
	tests := []struct {
		name     string
		user     string
		password string
		at       time.Time
		want     error
	}{
		{"good", user, good, now, nil},
		{"clock ahead 4m59s", user, good, now.Add(4*time.Minute + 59*time.Second), nil},
		{"clock behind 4m59s", user, good, now.Add(-4*time.Minute - 59*time.Second), nil},
		{"stale 6m", user, good, now.Add(6 * time.Minute), ErrStale},
		{"future 6m", user, good, now.Add(-6 * time.Minute), ErrStale},
		{"wrong key", user, Password(other, now), now, ErrBadSignature},
		{"other user", string(other.Address()), good, now, ErrBadSignature},
		{"flipped bit", user, string(flip), now, ErrBadSignature},
		{"not an address", "router-1", good, now, ErrBadUsername},
		{"empty user", "", good, now, ErrBadUsername},
		{"empty password", user, "", now, ErrMalformed},
		{"short", user, good[:100], now, ErrMalformed},
		{"not hex", user, strings.Repeat("z", PasswordSize), now, ErrMalformed},
		{"upper hex", user, strings.ToUpper(good), now, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pk, err := Verify(tc.user, []byte(tc.password), tc.at, DefaultSkew)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err == nil && pk != k.Public() {
				t.Errorf("key = %s, want %s", pk, k.Public())
			}
		})
	}
}

func TestTokenLayout(t *testing.T) {
	k := key(t, 3)
	now := time.UnixMilli(0x0102030405)
	tok := New(k, now)
	if len(tok) != Size {
		t.Fatalf("len = %d", len(tok))
	}
	if !bytes.Equal(tok[:8], []byte{0, 0, 0, 1, 2, 3, 4, 5}) {
		t.Errorf("timestamp bytes %x", tok[:8])
	}
	msg := append(append([]byte(Domain), k.Address()...), tok[:8]...)
	if !k.Public().Verify(msg, tok[8:]) {
		t.Error("signature does not cover Domain ‖ username ‖ timestamp")
	}
}

func FuzzVerify(f *testing.F) {
	k := key(f, 1)
	now := time.UnixMilli(1_800_000_000_000)
	f.Add(string(k.Address()), []byte(Password(k, now)))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, user string, password []byte) {
		pk, err := Verify(user, password, now, DefaultSkew)
		if err == nil && pk != k.Public() {
			t.Fatalf("accepted a token for key %s", pk)
		}
	})
}
