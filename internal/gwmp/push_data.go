package gwmp

import "fmt"

// PushData is PUSH_DATA (0x00): the gateway forwards received packets and/or
// its status to the server, which answers with PUSH_ACK.
//
//	bytes 0     protocol version
//	      1-2   random token
//	      3     0x00
//	      4-11  gateway EUI
//	      12-   JSON {"rxpk":[...],"stat":{...}}
type PushData struct {
	Header
	// GatewayEUI identifies the gateway.
	GatewayEUI EUI
	// RXPK holds the received packets; nil when the datagram has none.
	RXPK []RXPK
	// Stat is the gateway status; nil when the datagram has none.
	Stat *Stat
}

// pushDataBody is the JSON body of PUSH_DATA.
type pushDataBody struct {
	RXPK []RXPK `json:"rxpk,omitempty"`
	Stat *Stat  `json:"stat,omitempty"`
}

// Type returns TypePushData.
func (*PushData) Type() Type { return TypePushData }

// Ack returns the PUSH_ACK that acknowledges p.
func (p *PushData) Ack() *PushAck { return &PushAck{Header: p.Header} }

// Validate checks every rxpk and the stat. The error wraps ErrFieldRange.
func (p *PushData) Validate() error {
	for i := range p.RXPK {
		if err := p.RXPK[i].Validate(); err != nil {
			return fmt.Errorf("rxpk[%d]: %w", i, err)
		}
	}
	if p.Stat != nil {
		if err := p.Stat.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// MarshalBinary validates p and encodes it as a datagram.
func (p *PushData) MarshalBinary() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := appendHeader(make([]byte, 0, GatewayHeaderSize+256*len(p.RXPK)+64), p.Header, TypePushData)
	if err != nil {
		return nil, err
	}
	b = append(b, p.GatewayEUI[:]...)
	if fast, ok := appendRXPKBody(b, p); ok {
		return finish(fast)
	}
	body, err := marshalBody(pushDataBody{RXPK: p.RXPK, Stat: p.Stat})
	if err != nil {
		return nil, err
	}
	return finish(append(b, body...))
}

// appendRXPKBody appends the JSON body of a PUSH_DATA that carries packets
// and no status (every datagram the router sends) without encoding/json;
// false: use encoding/json.
func appendRXPKBody(b []byte, p *PushData) ([]byte, bool) {
	if p.Stat != nil || len(p.RXPK) == 0 {
		return b, false
	}
	b = append(b, `{"rxpk":[`...)
	for i := range p.RXPK {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = p.RXPK[i].appendJSON(b); !ok {
			return b, false
		}
	}
	return append(b, "]}"...), true
}

// UnmarshalBinary decodes and validates a PUSH_DATA datagram.
func (p *PushData) UnmarshalBinary(b []byte) error {
	h, err := decodeHeader(b, TypePushData, GatewayHeaderSize)
	if err != nil {
		return err
	}
	var body pushDataBody
	if err := unmarshalBody(trimBody(b[GatewayHeaderSize:]), &body); err != nil {
		return fmt.Errorf("PUSH_DATA: %w", err)
	}
	if len(body.RXPK) == 0 {
		body.RXPK = nil
	}
	for i := range body.RXPK {
		body.RXPK[i].Time = normTime(body.RXPK[i].Time)
	}
	out := PushData{Header: h, RXPK: body.RXPK, Stat: body.Stat}
	copy(out.GatewayEUI[:], b[HeaderSize:GatewayHeaderSize])
	if err := out.Validate(); err != nil {
		return fmt.Errorf("PUSH_DATA: %w", err)
	}
	*p = out
	return nil
}
