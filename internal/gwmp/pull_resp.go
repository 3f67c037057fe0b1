package gwmp

import "fmt"

// PullResp is PULL_RESP (0x03): the server asks the gateway to transmit a
// packet. In protocol version 2 the token is chosen by the server and echoed
// by the gateway's TX_ACK; in version 1 it is unused and there is no TX_ACK.
//
//	bytes 0     protocol version
//	      1-2   random token
//	      3     0x03
//	      4-    JSON {"txpk":{...}}
type PullResp struct {
	Header
	// TXPK is the packet to transmit.
	TXPK TXPK
}

// pullRespBody is the JSON body of PULL_RESP.
type pullRespBody struct {
	TXPK *TXPK `json:"txpk"`
}

// Type returns TypePullResp.
func (*PullResp) Type() Type { return TypePullResp }

// Ack returns the TX_ACK a gateway with EUI gw sends for p, reporting txErr
// ("" for an empty, successful acknowledgement).
func (p *PullResp) Ack(gw EUI, txErr TxError) *TxAck {
	return &TxAck{Header: p.Header, GatewayEUI: gw, Error: txErr}
}

// Validate checks the txpk. The error wraps ErrFieldRange.
func (p *PullResp) Validate() error { return p.TXPK.Validate() }

// MarshalBinary validates p and encodes it as a datagram.
func (p *PullResp) MarshalBinary() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	body, err := marshalBody(pullRespBody{TXPK: &p.TXPK})
	if err != nil {
		return nil, err
	}
	b, err := appendHeader(make([]byte, 0, HeaderSize+len(body)), p.Header, TypePullResp)
	if err != nil {
		return nil, err
	}
	return finish(append(b, body...))
}

// UnmarshalBinary decodes and validates a PULL_RESP datagram.
func (p *PullResp) UnmarshalBinary(b []byte) error {
	h, err := decodeHeader(b, TypePullResp, HeaderSize)
	if err != nil {
		return err
	}
	var body pullRespBody
	if err := unmarshalBody(trimBody(b[HeaderSize:]), &body); err != nil {
		return fmt.Errorf("PULL_RESP: %w", err)
	}
	if body.TXPK == nil {
		return fmt.Errorf("PULL_RESP: %w: no txpk object", ErrBadJSON)
	}
	body.TXPK.Time = normTime(body.TXPK.Time)
	out := PullResp{Header: h, TXPK: *body.TXPK}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("PULL_RESP: %w", err)
	}
	*p = out
	return nil
}
