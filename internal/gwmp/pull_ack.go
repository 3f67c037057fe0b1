package gwmp

// PullAck is PULL_ACK (0x04): the server acknowledges a PULL_DATA with its
// token and version, confirming the downlink route is open.
//
//	bytes 0     protocol version
//	      1-2   token of the PULL_DATA
//	      3     0x04
//
// Bytes after the header are ignored when decoding.
type PullAck struct {
	Header
}

// Type returns TypePullAck.
func (*PullAck) Type() Type { return TypePullAck }

// MarshalBinary encodes p as a datagram.
func (p *PullAck) MarshalBinary() ([]byte, error) {
	return appendHeader(make([]byte, 0, HeaderSize), p.Header, TypePullAck)
}

// UnmarshalBinary decodes a PULL_ACK datagram.
func (p *PullAck) UnmarshalBinary(b []byte) error {
	h, err := decodeHeader(b, TypePullAck, HeaderSize)
	if err != nil {
		return err
	}
	*p = PullAck{Header: h}
	return nil
}
