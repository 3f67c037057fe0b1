package gwmp

import "fmt"

// TxError is the "error" of a TX_ACK's "txpk_ack" object: whether the
// gateway accepted the PULL_RESP for transmission, and why not.
type TxError string

// TX_ACK error values from PROTOCOL.TXT section 6.
const (
	// TxErrorNone means the packet has been programmed for transmission.
	TxErrorNone TxError = "NONE"
	// TxErrorTooLate means it was too late to program the packet.
	TxErrorTooLate TxError = "TOO_LATE"
	// TxErrorTooEarly means the packet's timestamp is too far ahead.
	TxErrorTooEarly TxError = "TOO_EARLY"
	// TxErrorCollisionPacket means another packet holds the timeframe.
	TxErrorCollisionPacket TxError = "COLLISION_PACKET"
	// TxErrorCollisionBeacon means a beacon holds the timeframe.
	TxErrorCollisionBeacon TxError = "COLLISION_BEACON"
	// TxErrorTxFreq means the TX RF chain does not support the frequency.
	TxErrorTxFreq TxError = "TX_FREQ"
	// TxErrorTxPower means the gateway does not support the power.
	TxErrorTxPower TxError = "TX_POWER"
	// TxErrorGPSUnlocked means GPS time was asked but GPS is unlocked.
	TxErrorGPSUnlocked TxError = "GPS_UNLOCKED"
)

// Valid reports whether e is "" or one of the values of PROTOCOL.TXT.
func (e TxError) Valid() bool {
	switch e {
	case "", TxErrorNone, TxErrorTooLate, TxErrorTooEarly, TxErrorCollisionPacket,
		TxErrorCollisionBeacon, TxErrorTxFreq, TxErrorTxPower, TxErrorGPSUnlocked:
		return true
	}
	return false
}

// OK reports whether e means success: "" (no JSON body) or NONE.
func (e TxError) OK() bool { return e == "" || e == TxErrorNone }

// TxAck is TX_ACK (0x05): the gateway's feedback on a PULL_RESP, carrying its
// token. No JSON body, or one without an error, means success.
//
//	bytes 0     protocol version (2; version 1 has no TX_ACK)
//	      1-2   token of the PULL_RESP
//	      3     0x05
//	      4-11  gateway EUI
//	      12-   optional JSON {"txpk_ack":{"error":"..."}}
type TxAck struct {
	Header
	// GatewayEUI identifies the gateway.
	GatewayEUI EUI
	// Error is "" when the datagram has no JSON body or no error field,
	// else the reported value (TxErrorNone included); see TxError.OK.
	Error TxError
}

// txAckBody is the JSON body of TX_ACK.
type txAckBody struct {
	TxpkAck *txpkAck `json:"txpk_ack,omitempty"`
}

// txpkAck is the "txpk_ack" object.
type txpkAck struct {
	Error TxError `json:"error,omitempty"`
}

// Type returns TypeTxAck.
func (*TxAck) Type() Type { return TypeTxAck }

// Validate checks the error value. The error wraps ErrFieldRange.
func (t *TxAck) Validate() error {
	if !t.Error.Valid() {
		return fmt.Errorf("%w: txpk_ack error %q", ErrFieldRange, t.Error)
	}
	return nil
}

// MarshalBinary validates t and encodes it as a datagram, without a JSON
// body when Error is "".
func (t *TxAck) MarshalBinary() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	b, err := appendHeader(make([]byte, 0, GatewayHeaderSize+40), t.Header, TypeTxAck)
	if err != nil {
		return nil, err
	}
	b = append(b, t.GatewayEUI[:]...)
	if t.Error == "" {
		return b, nil
	}
	body, err := marshalBody(txAckBody{TxpkAck: &txpkAck{Error: t.Error}})
	if err != nil {
		return nil, err
	}
	return append(b, body...), nil
}

// UnmarshalBinary decodes and validates a TX_ACK datagram. An empty body (or
// one of only NUL bytes and whitespace, as some forwarders send) means OK.
func (t *TxAck) UnmarshalBinary(b []byte) error {
	h, err := decodeHeader(b, TypeTxAck, GatewayHeaderSize)
	if err != nil {
		return err
	}
	out := TxAck{Header: h}
	copy(out.GatewayEUI[:], b[HeaderSize:GatewayHeaderSize])
	if body := trimBody(b[GatewayHeaderSize:]); len(body) > 0 {
		var v txAckBody
		if err := unmarshalBody(body, &v); err != nil {
			return fmt.Errorf("TX_ACK: %w", err)
		}
		if v.TxpkAck != nil {
			out.Error = v.TxpkAck.Error
		}
	}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("TX_ACK: %w", err)
	}
	*t = out
	return nil
}
