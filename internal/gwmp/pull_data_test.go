package gwmp

import (
	"bytes"
	"reflect"
	"testing"
)

func TestPullDataRoundTrip(t *testing.T) {
	tests := []struct {
		in   PullData
		want []byte
	}{
		{PullData{Header: Header{Version: 2, Token: 0x1234}, GatewayEUI: testEUI},
			[]byte{2, 0x12, 0x34, 2, 0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1}},
		{PullData{Header: Header{Version: 1, Token: 0}, GatewayEUI: EUI{}},
			[]byte{1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}},
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
		ack := p.(*PullData).Ack()
		if ack.Header != tc.in.Header {
			t.Fatalf("Ack header %+v, want %+v", ack.Header, tc.in.Header)
		}
	}
}
