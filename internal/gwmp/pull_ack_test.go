package gwmp

import (
	"bytes"
	"reflect"
	"testing"
)

func TestPullAckRoundTrip(t *testing.T) {
	tests := []struct {
		in   PullAck
		want []byte
	}{
		{PullAck{Header: Header{Version: 2, Token: 0x0001}}, []byte{2, 0, 1, 4}},
		{PullAck{Header: Header{Version: 2, Token: 0xfedc}}, []byte{2, 0xfe, 0xdc, 4}},
		{PullAck{Header: Header{Version: 1, Token: 7}}, []byte{1, 0, 7, 4}},
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
}
