package gwmp

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestDecodeDispatchesOnIdentifier(t *testing.T) {
	eui := testEUI
	tests := []struct {
		name string
		in   []byte
		want Packet
	}{
		{"push_data", datagram(2, 0x1234, TypePushData, &eui, `{"rxpk":[`+specRxpkFSK+`]}`), &PushData{}},
		{"push_ack", datagram(2, 0x1234, TypePushAck, nil, ""), &PushAck{}},
		{"pull_data", datagram(2, 0x1234, TypePullData, &eui, ""), &PullData{}},
		{"pull_resp", datagram(2, 0x1234, TypePullResp, nil, specTxpkLoRa), &PullResp{}},
		{"pull_ack", datagram(2, 0x1234, TypePullAck, nil, ""), &PullAck{}},
		{"tx_ack", datagram(2, 0x1234, TypeTxAck, &eui, ""), &TxAck{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.in)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if reflect.TypeOf(p) != reflect.TypeOf(tc.want) {
				t.Fatalf("Decode gave %T, want %T", p, tc.want)
			}
			if p.Type() != tc.want.Type() || p.Type() != Type(tc.in[3]) {
				t.Errorf("Type() = %v, datagram says %v", p.Type(), Type(tc.in[3]))
			}
			if p.RandomToken() != 0x1234 || p.ProtocolVersion() != 2 {
				t.Errorf("header = v%d token %#04x, want v2 0x1234", p.ProtocolVersion(), p.RandomToken())
			}
			out, err := Encode(p)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(out[:4], tc.in[:4]) {
				t.Errorf("encoded header % x, want % x", out[:4], tc.in[:4])
			}
		})
	}
}

func TestDecodeHeaderErrors(t *testing.T) {
	eui := testEUI
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrTooShort},
		{"three bytes", []byte{2, 0, 0}, ErrTooShort},
		{"push_data without eui", datagram(2, 1, TypePushData, nil, "{}"), ErrTooShort},
		{"pull_data without eui", datagram(2, 1, TypePullData, nil, ""), ErrTooShort},
		{"tx_ack with half an eui", datagram(2, 1, TypeTxAck, nil, "1234"), ErrTooShort},
		{"version 0", datagram(0, 1, TypePushAck, nil, ""), ErrVersion},
		{"version 3", datagram(3, 1, TypePullData, &eui, ""), ErrVersion},
		{"version 255", datagram(255, 1, TypePullAck, nil, ""), ErrVersion},
		{"identifier 6", datagram(2, 1, Type(6), nil, ""), ErrUnknownType},
		{"version before identifier", datagram(3, 1, Type(6), nil, ""), ErrVersion},
		{"identifier 0xff", datagram(2, 1, Type(0xff), &eui, "{}"), ErrUnknownType},
		{"oversize", append(datagram(2, 1, TypePushData, &eui, "{}"), make([]byte, MaxDatagramSize)...), ErrOversize},
		{"pull_resp without body", datagram(2, 1, TypePullResp, nil, ""), ErrBadJSON},
		{"push_data without body", datagram(2, 1, TypePushData, &eui, ""), ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want %v", p, err, tc.want)
			}
			if p != nil {
				t.Errorf("Decode returned a packet with an error: %#v", p)
			}
		})
	}
}

func TestUnmarshalBinaryRejectsOtherTypes(t *testing.T) {
	b := datagram(2, 7, TypePullAck, nil, "")
	if err := new(PushAck).UnmarshalBinary(b); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("PushAck.UnmarshalBinary(PULL_ACK) = %v, want ErrUnknownType", err)
	}
}

func TestVersionOneIsAcceptedAndEchoed(t *testing.T) {
	eui := testEUI
	p, err := Decode(datagram(1, 0xbeef, TypePullData, &eui, ""))
	if err != nil {
		t.Fatal(err)
	}
	pd := p.(*PullData)
	ack, err := pd.Ack().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 0xbe, 0xef, 0x04}; !bytes.Equal(ack, want) {
		t.Fatalf("PULL_ACK for v1 = % x, want % x", ack, want)
	}
}

func TestEncodeNil(t *testing.T) {
	if _, err := Encode(nil); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("Encode(nil) = %v", err)
	}
}

func TestMarshalRejectsBadVersion(t *testing.T) {
	p := &PushAck{Header: Header{Version: 3}}
	if _, err := p.MarshalBinary(); !errors.Is(err, ErrVersion) {
		t.Fatalf("MarshalBinary v3 = %v, want ErrVersion", err)
	}
	b, err := (&PushAck{Header: Header{Token: 5}}).MarshalBinary()
	if err != nil || b[0] != Version2 {
		t.Fatalf("MarshalBinary v0 = % x, %v; want version 2", b, err)
	}
}

func TestParseEUI(t *testing.T) {
	tests := []struct {
		in      string
		want    EUI
		wantErr bool
	}{
		{"aa555a0000000101", testEUI, false},
		{"AA-55-5A-00-00-00-01-01", testEUI, false},
		{"aa:55:5a:00:00:00:01:01", testEUI, false},
		{"aa555a00000001", EUI{}, true},
		{"aa555a000000010101", EUI{}, true},
		{"zz555a0000000101", EUI{}, true},
		{"", EUI{}, true},
	}
	for _, tc := range tests {
		got, err := ParseEUI(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseEUI(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrFieldRange) {
			t.Errorf("ParseEUI(%q) error %v does not wrap ErrFieldRange", tc.in, err)
		}
	}
	var e EUI
	txt, _ := testEUI.MarshalText()
	if err := e.UnmarshalText(txt); err != nil || e != testEUI || testEUI.String() != "aa555a0000000101" {
		t.Fatalf("text round trip: %v %v %s", e, err, txt)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "none"},
		{fmt.Errorf("x: %w", ErrTooShort), "too_short"},
		{ErrOversize, "oversize"},
		{ErrVersion, "version"},
		{ErrUnknownType, "unknown_type"},
		{fmt.Errorf("PUSH_DATA: %w", fmt.Errorf("%w: bad", ErrBadJSON)), "bad_json"},
		{ErrFieldRange, "field_range"},
		{errors.New("io"), "other"},
	}
	for _, tc := range tests {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestTypeString(t *testing.T) {
	if TypeTxAck.String() != "TX_ACK" || Type(9).String() != "Type(0x09)" {
		t.Fatalf("String: %s %s", TypeTxAck, Type(9))
	}
}
