// Package token makes and checks the MQTT password by which a hexnet key
// (hotspot or network service) logs in to the broker: a signed timestamp.
//
// Layout of a token (72 bytes):
//
//	timestamp  8 bytes  unix milliseconds, big-endian
//	signature 64 bytes  ed25519 over Domain ‖ username ‖ timestamp
//
// The username is the signer's address, so the token is bound to it. The
// MQTT password is the lowercase hex text of the token (144 characters):
// text survives every broker's auth plugin (EMQX HTTP auth, Mosquitto
// plugins) where raw bytes might not.
//
// A token is accepted within a clock window (±5 minutes by default) and may
// be reused inside it: reconnects after a network blip present the same
// password. This is not replay-proof against someone who reads the password
// off the wire inside the window, which is what TLS is for; clients make a
// fresh token on every (re)connect, so the exposure is one window.
package token

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
)

// Domain separates MQTT auth signatures from every other hexnet signature.
const Domain = "hexnet-mqtt-auth-v1"

// Size is the length of a raw token; PasswordSize the length of its hex text.
const (
	Size         = 8 + identity.SignatureSize
	PasswordSize = 2 * Size
)

// DefaultSkew is the default accepted difference between token and broker clocks.
const DefaultSkew = 5 * time.Minute

// Sentinel errors returned by Verify.
var (
	ErrBadUsername  = errors.New("token: username is not an address")
	ErrMalformed    = errors.New("token: malformed password")
	ErrStale        = errors.New("token: timestamp outside the accepted window")
	ErrBadSignature = errors.New("token: bad signature")
)

// New returns the raw token of key for time now.
func New(key *identity.Key, now time.Time) []byte {
	ts := make([]byte, 8)
	binary.BigEndian.PutUint64(ts, uint64(now.UnixMilli()))
	sig := key.SignBytes(signed(string(key.Address()), ts))
	return append(ts, sig...)
}

// Password returns the MQTT password of key for time now: the hex text of New.
func Password(key *identity.Key, now time.Time) string {
	return hex.EncodeToString(New(key, now))
}

// signed is the message a token signs.
func signed(username string, ts []byte) []byte {
	msg := make([]byte, 0, len(Domain)+len(username)+len(ts))
	msg = append(msg, Domain...)
	msg = append(msg, username...)
	return append(msg, ts...)
}

// Verify checks that password is a token signed by the key of the address
// username, made within skew of now, and returns that key.
func Verify(username string, password []byte, now time.Time, skew time.Duration) (identity.PublicKey, error) {
	pk, err := identity.ParseAddress(username)
	if err != nil {
		return identity.PublicKey{}, fmt.Errorf("%w: %w", ErrBadUsername, err)
	}
	if len(password) != PasswordSize {
		return identity.PublicKey{}, fmt.Errorf("%w: length %d, want %d", ErrMalformed, len(password), PasswordSize)
	}
	raw := make([]byte, Size)
	if _, err := hex.Decode(raw, password); err != nil {
		return identity.PublicKey{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	ts := raw[:8]
	ms := int64(binary.BigEndian.Uint64(ts))
	if ms < 0 {
		return identity.PublicKey{}, fmt.Errorf("%w: negative timestamp", ErrMalformed)
	}
	diff := now.Sub(time.UnixMilli(ms))
	if diff > skew || diff < -skew {
		return identity.PublicKey{}, fmt.Errorf("%w: token is %s off the broker clock", ErrStale, diff.Round(time.Second))
	}
	if !pk.Verify(signed(username, ts), raw[8:]) {
		return identity.PublicKey{}, ErrBadSignature
	}
	return pk, nil
}
