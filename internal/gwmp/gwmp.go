// Package gwmp encodes and decodes the Semtech UDP packet forwarder protocol
// (GWMP, "PROTOCOL.TXT" of Semtech's lora_gateway/packet_forwarder, protocol
// version 2, and version 1 as sent by older forwarders).
//
// Every datagram starts with a four-byte header: the protocol version, a
// two-byte random token and a packet identifier. PUSH_DATA, PULL_DATA and
// TX_ACK follow it with the gateway's 8-byte EUI; PUSH_DATA, PULL_RESP and
// TX_ACK carry a JSON object after that. Decode dispatches on the identifier
// and validates every field; each packet type has MarshalBinary and
// UnmarshalBinary. Decoding never panics: malformed input yields an error that
// wraps one of the package's sentinel errors.
//
// The package uses only the standard library and no cgo, so it builds for the
// ARM gateways the hotspot agent runs on.
package gwmp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Protocol versions accepted by Decode. A server answers with the version of
// the datagram it answers.
const (
	// Version1 is the protocol version of forwarders before TX_ACK existed.
	Version1 uint8 = 1
	// Version2 is the protocol version described by PROTOCOL.TXT v1.3+.
	Version2 uint8 = 2
)

// MaxDatagramSize is the largest datagram Decode accepts and MarshalBinary
// produces: the largest UDP payload over IPv4 (65535 − 8 − 20 bytes). A stock
// SX1302 forwarder may pack up to 255 received packets (about 540 bytes of
// JSON each) into one PUSH_DATA, so a smaller cap would drop real traffic;
// eight full-size rxpk take about 3 KB.
const MaxDatagramSize = 65507

// MaxPayloadSize is the largest radio payload (rxpk/txpk "data") in bytes.
const MaxPayloadSize = 255

// Header sizes in bytes.
const (
	// HeaderSize is the size of the common header: version, token, identifier.
	HeaderSize = 4
	// GatewayHeaderSize is the header size of packets that carry the gateway
	// EUI (PUSH_DATA, PULL_DATA, TX_ACK).
	GatewayHeaderSize = HeaderSize + 8
)

// Type is the packet identifier, byte 3 of every datagram.
type Type uint8

// Packet identifiers from PROTOCOL.TXT.
const (
	// TypePushData is sent by the gateway with received packets and status.
	TypePushData Type = 0x00
	// TypePushAck is the server's acknowledgement of a PUSH_DATA.
	TypePushAck Type = 0x01
	// TypePullData is the gateway's keepalive that opens the downlink route.
	TypePullData Type = 0x02
	// TypePullResp is sent by the server with a packet to transmit.
	TypePullResp Type = 0x03
	// TypePullAck is the server's acknowledgement of a PULL_DATA.
	TypePullAck Type = 0x04
	// TypeTxAck is the gateway's feedback on a PULL_RESP.
	TypeTxAck Type = 0x05
)

// String returns the protocol name of the packet type, e.g. "PUSH_DATA".
func (t Type) String() string {
	switch t {
	case TypePushData:
		return "PUSH_DATA"
	case TypePushAck:
		return "PUSH_ACK"
	case TypePullData:
		return "PULL_DATA"
	case TypePullResp:
		return "PULL_RESP"
	case TypePullAck:
		return "PULL_ACK"
	case TypeTxAck:
		return "TX_ACK"
	default:
		return fmt.Sprintf("Type(0x%02x)", uint8(t))
	}
}

// Header is the part common to every packet: protocol version and random
// token. The token is bytes 1–2 of the datagram read big-endian; it is echoed
// unchanged, so the byte order only matters when printing it.
type Header struct {
	// Version is the protocol version, 1 or 2. MarshalBinary writes 2 when
	// it is zero.
	Version uint8
	// Token is the random token chosen by the sender of a request and
	// echoed by its acknowledgement.
	Token uint16
}

// ProtocolVersion returns the header's protocol version.
func (h Header) ProtocolVersion() uint8 { return h.Version }

// RandomToken returns the header's token.
func (h Header) RandomToken() uint16 { return h.Token }

// Packet is one decoded datagram: *PushData, *PushAck, *PullData,
// *PullResp, *PullAck or *TxAck.
type Packet interface {
	// Type returns the packet identifier.
	Type() Type
	// ProtocolVersion returns the protocol version of the header.
	ProtocolVersion() uint8
	// RandomToken returns the token of the header.
	RandomToken() uint16
	// MarshalBinary validates the packet and encodes it as a datagram.
	MarshalBinary() ([]byte, error)
}

// Decode parses one datagram, dispatching on its identifier byte, and
// validates every field. The error wraps one of the package's sentinel errors.
func Decode(b []byte) (Packet, error) {
	if len(b) > MaxDatagramSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrOversize, len(b))
	}
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrTooShort, len(b), HeaderSize)
	}
	// The version comes first: a future version may redefine identifiers.
	if b[0] != Version1 && b[0] != Version2 {
		return nil, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	var p interface {
		Packet
		UnmarshalBinary([]byte) error
	}
	switch Type(b[3]) {
	case TypePushData:
		p = new(PushData)
	case TypePushAck:
		p = new(PushAck)
	case TypePullData:
		p = new(PullData)
	case TypePullResp:
		p = new(PullResp)
	case TypePullAck:
		p = new(PullAck)
	case TypeTxAck:
		p = new(TxAck)
	default:
		return nil, fmt.Errorf("%w: 0x%02x", ErrUnknownType, b[3])
	}
	if err := p.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return p, nil
}

// Encode validates p and encodes it as a datagram; it is p.MarshalBinary().
func Encode(p Packet) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil packet", ErrUnknownType)
	}
	return p.MarshalBinary()
}

// decodeHeader checks size, version and identifier of b for a packet of type
// t whose fixed part is min bytes long.
func decodeHeader(b []byte, t Type, min int) (Header, error) {
	if len(b) > MaxDatagramSize {
		return Header{}, fmt.Errorf("%w: %d bytes", ErrOversize, len(b))
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrTooShort, len(b), HeaderSize)
	}
	if Type(b[3]) != t {
		return Header{}, fmt.Errorf("%w: 0x%02x is not %s", ErrUnknownType, b[3], t)
	}
	if b[0] != Version1 && b[0] != Version2 {
		return Header{}, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	if len(b) < min {
		return Header{}, fmt.Errorf("%w: %s of %d bytes, needs %d", ErrTooShort, t, len(b), min)
	}
	return Header{Version: b[0], Token: binary.BigEndian.Uint16(b[1:3])}, nil
}

// appendHeader appends the four-byte header of a packet of type t.
func appendHeader(dst []byte, h Header, t Type) ([]byte, error) {
	v := h.Version
	if v == 0 {
		v = Version2
	}
	if v != Version1 && v != Version2 {
		return nil, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	dst = append(dst, v)
	dst = binary.BigEndian.AppendUint16(dst, h.Token)
	return append(dst, byte(t)), nil
}

// finish checks the size of an encoded datagram.
func finish(b []byte) ([]byte, error) {
	if len(b) > MaxDatagramSize {
		return nil, fmt.Errorf("%w: encoded %d bytes", ErrOversize, len(b))
	}
	return b, nil
}

// trimBody removes the whitespace and NUL bytes some forwarders leave around
// the JSON body (a C string terminator sent with the datagram).
func trimBody(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n\x00")
}

// unmarshalBody decodes a JSON object body into v. Range errors raised while
// decoding (base64, data rate) keep ErrFieldRange; everything else that the
// JSON decoder rejects is ErrBadJSON.
func unmarshalBody(b []byte, v any) error {
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("%w: body is not a JSON object", ErrBadJSON)
	}
	if err := json.Unmarshal(b, v); err != nil {
		if errors.Is(err, ErrFieldRange) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	return nil
}

// marshalBody encodes v as JSON, keeping sentinel errors of custom
// marshalers visible.
func marshalBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		if errors.Is(err, ErrFieldRange) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	return b, nil
}

// EUI is a gateway's 64-bit unique identifier ("MAC address" in
// PROTOCOL.TXT), bytes 4–11 of PUSH_DATA, PULL_DATA and TX_ACK.
type EUI [8]byte

// ParseEUI parses 16 hexadecimal digits, optionally separated by '-' or ':'.
func ParseEUI(s string) (EUI, error) {
	var e EUI
	clean := make([]byte, 0, 16)
	for i := 0; i < len(s); i++ {
		if s[i] == '-' || s[i] == ':' {
			continue
		}
		clean = append(clean, s[i])
	}
	if len(clean) != 16 {
		return e, fmt.Errorf("%w: EUI %q is not 16 hex digits", ErrFieldRange, s)
	}
	if _, err := hex.Decode(e[:], clean); err != nil {
		return e, fmt.Errorf("%w: EUI %q: %v", ErrFieldRange, s, err)
	}
	return e, nil
}

// String returns the EUI as 16 lowercase hexadecimal digits.
func (e EUI) String() string { return hex.EncodeToString(e[:]) }

// MarshalText encodes the EUI as 16 lowercase hexadecimal digits.
func (e EUI) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText parses an EUI written by MarshalText or ParseEUI's forms.
func (e *EUI) UnmarshalText(b []byte) error {
	v, err := ParseEUI(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}
