package gwmp

// PushAck is PUSH_ACK (0x01): the server acknowledges a PUSH_DATA with its
// token and version.
//
//	bytes 0     protocol version
//	      1-2   token of the PUSH_DATA
//	      3     0x01
//
// Bytes after the header are ignored when decoding.
type PushAck struct {
	Header
}

// Type returns TypePushAck.
func (*PushAck) Type() Type { return TypePushAck }

// MarshalBinary encodes p as a datagram.
func (p *PushAck) MarshalBinary() ([]byte, error) {
	return appendHeader(make([]byte, 0, HeaderSize), p.Header, TypePushAck)
}

// UnmarshalBinary decodes a PUSH_ACK datagram.
func (p *PushAck) UnmarshalBinary(b []byte) error {
	h, err := decodeHeader(b, TypePushAck, HeaderSize)
	if err != nil {
		return err
	}
	*p = PushAck{Header: h}
	return nil
}
