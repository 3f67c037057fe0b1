package gwmp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Frequency bounds accepted in "freq", in MHz: the LoRaWAN regions lie between
// 433 MHz (EU433) and 928 MHz (US915, AS923), so anything outside 100–1000 MHz
// is a corrupted or hostile packet.
const (
	// MinFreqMHz is the lowest frequency accepted, in MHz.
	MinFreqMHz = 100.0
	// MaxFreqMHz is the highest frequency accepted, in MHz.
	MaxFreqMHz = 1000.0
)

// MaxTmms is the largest GPS time accepted in "tmms": milliseconds since
// 1980-01-06, 2^43 ms is about 278 years.
const MaxTmms = 1 << 43

// freqHz converts a frequency in MHz to Hz, rounded to the nearest Hz. Values
// that are not a positive frequency below 2^53 Hz give 0.
func freqHz(mhz float64) uint64 {
	hz := math.Round(mhz * 1e6)
	if !(hz > 0) || hz >= 1<<53 {
		return 0
	}
	return uint64(hz)
}

// freqMHz converts a frequency in Hz to the MHz float that round-trips
// through JSON and freqHz to the same Hz.
func freqMHz(hz uint64) float64 { return float64(hz) / 1e6 }

// checkFreq validates a "freq" value.
func checkFreq(what string, mhz float64) error {
	if !(mhz >= MinFreqMHz && mhz <= MaxFreqMHz) {
		return fmt.Errorf("%w: %s freq %v MHz outside [%v, %v]", ErrFieldRange, what, mhz, MinFreqMHz, MaxFreqMHz)
	}
	return nil
}

// checkTime validates an optional "time": the year must be 1970–9999 in UTC
// (a gateway without NTP or GPS reports 1970; JSON cannot carry other years).
func checkTime(what string, t *time.Time) error {
	if t == nil {
		return nil
	}
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return fmt.Errorf("%w: %s time year %d", ErrFieldRange, what, y)
	}
	return nil
}

// normTime returns t in UTC, so a decoded time compares equal to itself after
// a round trip.
func normTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// checkTmms validates an optional "tmms".
func checkTmms(what string, v *uint64) error {
	if v != nil && *v > MaxTmms {
		return fmt.Errorf("%w: %s tmms %d above %d", ErrFieldRange, what, *v, uint64(MaxTmms))
	}
	return nil
}

// checkPayload validates "size" against the decoded "data".
func checkPayload(what string, size uint16, data Payload) error {
	if len(data) > MaxPayloadSize {
		return fmt.Errorf("%w: %s data of %d bytes, max %d", ErrFieldRange, what, len(data), MaxPayloadSize)
	}
	if int(size) != len(data) {
		return fmt.Errorf("%w: %s size %d but data has %d bytes", ErrFieldRange, what, size, len(data))
	}
	return nil
}

// Payload is the "data" field: radio payload bytes, sent as padded standard
// base64. Decoding also accepts unpadded base64 (PROTOCOL.TXT makes padding
// optional in txpk). Any []byte can be assigned to a Payload.
type Payload []byte

// MarshalJSON writes the payload as a padded standard base64 JSON string.
func (p Payload) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(p))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, p)
	return append(out, '"'), nil
}

// UnmarshalJSON reads a base64 JSON string, padded or not. An empty string
// or null gives a nil Payload; bad base64 is an ErrFieldRange error.
func (p *Payload) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*p = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*p = nil
		return nil
	}
	if base64.StdEncoding.EncodedLen(MaxPayloadSize) < len(s) {
		return fmt.Errorf("%w: data of %d base64 characters, max %d bytes", ErrFieldRange, len(s), MaxPayloadSize)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out, err := enc.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: data is not base64: %v", ErrFieldRange, err)
	}
	if len(out) == 0 {
		out = nil
	}
	*p = out
	return nil
}
