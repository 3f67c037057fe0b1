package gwmp

import "errors"

// Sentinel errors returned by Decode, the UnmarshalBinary methods and the
// MarshalBinary methods. Every error from this package wraps exactly one of
// them, so a caller can count malformed datagrams by reason with errors.Is or
// with Reason.
var (
	// ErrTooShort reports a datagram shorter than the header of its type.
	ErrTooShort = errors.New("gwmp: datagram too short")
	// ErrOversize reports a datagram longer than MaxDatagramSize.
	ErrOversize = errors.New("gwmp: datagram too large")
	// ErrVersion reports a protocol version other than 1 or 2.
	ErrVersion = errors.New("gwmp: unsupported protocol version")
	// ErrUnknownType reports an identifier byte that names no packet type,
	// or a datagram handed to the UnmarshalBinary of another type.
	ErrUnknownType = errors.New("gwmp: unknown packet identifier")
	// ErrBadJSON reports a JSON body that is missing, not an object, not
	// valid JSON, or has a field of the wrong JSON type.
	ErrBadJSON = errors.New("gwmp: malformed JSON body")
	// ErrFieldRange reports a well-formed JSON field whose value is outside
	// what the protocol and the radio allow (frequency, size, power, base64,
	// modulation, data rate, CRC status, timestamps, coordinates).
	ErrFieldRange = errors.New("gwmp: field out of range")
)

// Reason names the sentinel error that err wraps, as a short snake_case label
// for metrics and logs: "too_short", "oversize", "version", "unknown_type",
// "bad_json", "field_range", "none" for a nil error, or "other".
func Reason(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, ErrTooShort):
		return "too_short"
	case errors.Is(err, ErrOversize):
		return "oversize"
	case errors.Is(err, ErrVersion):
		return "version"
	case errors.Is(err, ErrUnknownType):
		return "unknown_type"
	case errors.Is(err, ErrBadJSON):
		return "bad_json"
	case errors.Is(err, ErrFieldRange):
		return "field_range"
	default:
		return "other"
	}
}
