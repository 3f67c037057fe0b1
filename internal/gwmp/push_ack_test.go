package gwmp

import (
	"bytes"
	"reflect"
	"testing"
)

func TestPushAckRoundTrip(t *testing.T) {
	tests := []struct {
		in   PushAck
		want []byte
	}{
		{PushAck{Header: Header{Version: 2, Token: 0}}, []byte{2, 0, 0, 1}},
		{PushAck{Header: Header{Version: 2, Token: 0xabcd}}, []byte{2, 0xab, 0xcd, 1}},
		{PushAck{Header: Header{Version: 1, Token: 0xffff}}, []byte{1, 0xff, 0xff, 1}},
	}
	for _, tc := range tests {
		b, err := tc.in.MarshalBinary()
		if err != nil || !bytes.Equal(b, tc.want) {
			t.Fatalf("MarshalBinary(%+v) = % x, %v; want % x", tc.in, b, err, tc.want)
		}
		p, err := Decode(b)
		if err != nil || !reflect.DeepEqual(p, &tc.in) {
			t.Fatalf("Decode(% x) = %+v, %v", b, p, err)
		}
	}
	// Trailing bytes after the header are ignored.
	p, err := Decode([]byte{2, 1, 2, 1, 0xee})
	if err != nil || p.RandomToken() != 0x0102 {
		t.Fatalf("Decode with trailing byte = %+v, %v", p, err)
	}
}
