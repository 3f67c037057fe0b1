package gwmp

// PullData is PULL_DATA (0x02): the gateway's periodic keepalive that opens
// the route for downlinks; the server answers with PULL_ACK.
//
//	bytes 0     protocol version
//	      1-2   random token
//	      3     0x02
//	      4-11  gateway EUI
//
// Bytes after the gateway EUI are ignored when decoding.
type PullData struct {
	Header
	// GatewayEUI identifies the gateway.
	GatewayEUI EUI
}

// Type returns TypePullData.
func (*PullData) Type() Type { return TypePullData }

// Ack returns the PULL_ACK that acknowledges p.
func (p *PullData) Ack() *PullAck { return &PullAck{Header: p.Header} }

// MarshalBinary encodes p as a datagram.
func (p *PullData) MarshalBinary() ([]byte, error) {
	b, err := appendHeader(make([]byte, 0, GatewayHeaderSize), p.Header, TypePullData)
	if err != nil {
		return nil, err
	}
	return append(b, p.GatewayEUI[:]...), nil
}

// UnmarshalBinary decodes a PULL_DATA datagram.
func (p *PullData) UnmarshalBinary(b []byte) error {
	h, err := decodeHeader(b, TypePullData, GatewayHeaderSize)
	if err != nil {
		return err
	}
	out := PullData{Header: h}
	copy(out.GatewayEUI[:], b[HeaderSize:GatewayHeaderSize])
	*p = out
	return nil
}
