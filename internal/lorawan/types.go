// Package lorawan is what hexnet needs of LoRaWAN, built over
// github.com/brocaar/lorawan: a PHYPayload parser that never panics and
// validates lengths before it trusts anything, cheap peeks at DevAddr and
// EUIs for the router's hot path, MIC checks, payload encryption, join-accept
// decryption and session key derivation for LoRaWAN 1.0.x (with the 1.1
// variants the test vectors cover), frame builders for a basic LNS, the
// regional parameters (RP002-1.0.x) of the regions hexnet serves, and LoRa
// airtime per Semtech AN1200.13.
//
// Byte order: DevAddr, EUIs, NetID and keys are held MSB-first, as LoRaWAN
// tools display them; on air most of them are little-endian, and the parser
// and builders do the swap. Payloads, FOpts and MICs are held in wire order.
package lorawan

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors.
var (
	// ErrTooShort: the frame is shorter than its message type needs.
	ErrTooShort = errors.New("lorawan: frame too short")
	// ErrMalformed: the frame's layout is invalid for its message type.
	ErrMalformed = errors.New("lorawan: malformed frame")
	// ErrWrongType: the operation does not apply to this message type.
	ErrWrongType = errors.New("lorawan: wrong message type")
	// ErrBadKey: a key is not 16 bytes (32 hex digits).
	ErrBadKey = errors.New("lorawan: bad key")
	// ErrBadParam: a builder or helper got an out-of-range parameter.
	ErrBadParam = errors.New("lorawan: bad parameter")
)

// MType is the LoRaWAN message type (the top three bits of MHDR).
type MType uint8

// Message types, in MHDR order.
const (
	JoinRequest MType = iota
	JoinAccept
	UnconfirmedDataUp
	UnconfirmedDataDown
	ConfirmedDataUp
	ConfirmedDataDown
	RejoinRequest
	Proprietary
)

// String returns the message type's name, e.g. "UnconfirmedDataUp".
func (m MType) String() string {
	switch m {
	case JoinRequest:
		return "JoinRequest"
	case JoinAccept:
		return "JoinAccept"
	case UnconfirmedDataUp:
		return "UnconfirmedDataUp"
	case UnconfirmedDataDown:
		return "UnconfirmedDataDown"
	case ConfirmedDataUp:
		return "ConfirmedDataUp"
	case ConfirmedDataDown:
		return "ConfirmedDataDown"
	case RejoinRequest:
		return "RejoinRequest"
	case Proprietary:
		return "Proprietary"
	}
	return fmt.Sprintf("MType(%d)", uint8(m))
}

// IsData reports whether m is one of the four data message types.
func (m MType) IsData() bool {
	return m >= UnconfirmedDataUp && m <= ConfirmedDataDown
}

// IsUplink reports whether m travels from device to network.
func (m MType) IsUplink() bool {
	switch m {
	case JoinRequest, UnconfirmedDataUp, ConfirmedDataUp, RejoinRequest:
		return true
	}
	return false
}

// DevAddr is a device address, MSB-first.
type DevAddr [4]byte

// String returns the address as 8 lower-case hex digits, MSB-first.
func (a DevAddr) String() string { return hex.EncodeToString(a[:]) }

// Uint32 returns the address as a number.
func (a DevAddr) Uint32() uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

// EUI64 is a JoinEUI or DevEUI, MSB-first.
type EUI64 [8]byte

// String returns the EUI as 16 lower-case hex digits, MSB-first.
func (e EUI64) String() string { return hex.EncodeToString(e[:]) }

// ParseEUI64 parses 16 hex digits, MSB-first.
func ParseEUI64(s string) (EUI64, error) {
	var e EUI64
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != len(e) {
		return e, fmt.Errorf("%w: EUI %q is not 16 hex digits", ErrBadParam, s)
	}
	copy(e[:], b)
	return e, nil
}

// NetID is a 3-byte network identifier, MSB-first.
type NetID [3]byte

// String returns the NetID as 6 lower-case hex digits, MSB-first.
func (n NetID) String() string { return hex.EncodeToString(n[:]) }

// Key is an AES-128 key (AppKey, NwkSKey, AppSKey, ...).
type Key [16]byte

// String returns the key as 32 lower-case hex digits.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// ParseKey parses a key written as exactly 32 hex digits.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != 2*len(k) {
		return k, fmt.Errorf("%w: want 32 hex digits, got %d characters", ErrBadKey, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return k, fmt.Errorf("%w: not hex", ErrBadKey)
	}
	copy(k[:], b)
	return k, nil
}

// MIC is a 4-byte message integrity code, in wire order.
type MIC [4]byte

// String returns the MIC as 8 lower-case hex digits, wire order.
func (m MIC) String() string { return hex.EncodeToString(m[:]) }

// reverse returns a reversed copy of b (little-endian wire <-> MSB-first).
func reverse(dst, src []byte) {
	n := len(src)
	for i := range src {
		dst[n-1-i] = src[i]
	}
}
