package gwmp

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestTxAckRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   TxAck
		body string
	}{
		{"empty means ok", TxAck{Header: Header{Version: 2, Token: 0x0102}, GatewayEUI: testEUI}, ""},
		{"none", TxAck{Header: Header{Version: 2, Token: 3}, GatewayEUI: testEUI, Error: TxErrorNone}, `{"txpk_ack":{"error":"NONE"}}`},
		{"too late", TxAck{Header: Header{Version: 2, Token: 4}, GatewayEUI: testEUI, Error: TxErrorTooLate}, `{"txpk_ack":{"error":"TOO_LATE"}}`},
		{"too early", TxAck{Header: Header{Version: 2, Token: 5}, GatewayEUI: testEUI, Error: TxErrorTooEarly}, `{"txpk_ack":{"error":"TOO_EARLY"}}`},
		{"collision packet", TxAck{Header: Header{Version: 2, Token: 6}, GatewayEUI: testEUI, Error: TxErrorCollisionPacket}, specTxAck},
		{"collision beacon", TxAck{Header: Header{Version: 2, Token: 7}, GatewayEUI: testEUI, Error: TxErrorCollisionBeacon}, `{"txpk_ack":{"error":"COLLISION_BEACON"}}`},
		{"tx freq", TxAck{Header: Header{Version: 2, Token: 8}, GatewayEUI: testEUI, Error: TxErrorTxFreq}, `{"txpk_ack":{"error":"TX_FREQ"}}`},
		{"tx power", TxAck{Header: Header{Version: 2, Token: 9}, GatewayEUI: testEUI, Error: TxErrorTxPower}, `{"txpk_ack":{"error":"TX_POWER"}}`},
		{"gps unlocked", TxAck{Header: Header{Version: 2, Token: 10}, GatewayEUI: testEUI, Error: TxErrorGPSUnlocked}, `{"txpk_ack":{"error":"GPS_UNLOCKED"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.in.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			eui := testEUI
			if want := datagram(tc.in.Version, tc.in.Token, TypeTxAck, &eui, tc.body); !bytes.Equal(b, want) {
				t.Fatalf("encoded\n% x\nwant\n% x", b, want)
			}
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := p.(*TxAck); !reflect.DeepEqual(*got, tc.in) {
				t.Fatalf("round trip %+v, want %+v", *got, tc.in)
			}
			if ok := tc.in.Error.OK(); ok != (tc.in.Error == "" || tc.in.Error == TxErrorNone) {
				t.Errorf("OK() = %v", ok)
			}
		})
	}
}

func TestTxAckBodies(t *testing.T) {
	eui := testEUI
	tests := []struct {
		name string
		body string
		want TxError
		err  error
	}{
		{"C terminator only", "\x00", "", nil},
		{"json with C terminator", `{"txpk_ack":{"error":"TOO_LATE"}}` + "\x00", TxErrorTooLate, nil},
		{"empty object", `{}`, "", nil},
		{"empty txpk_ack", `{"txpk_ack":{}}`, "", nil},
		{"sx1302 warning", `{"txpk_ack":{"warn":"TX_POWER","value":20}}`, "", nil},
		{"unknown error", `{"txpk_ack":{"error":"ON_FIRE"}}`, "", ErrFieldRange},
		{"lower case", `{"txpk_ack":{"error":"too_late"}}`, "", ErrFieldRange},
		{"error number", `{"txpk_ack":{"error":3}}`, "", ErrBadJSON},
		{"garbage", `TOO_LATE`, "", ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(datagram(2, 1, TypeTxAck, &eui, tc.body))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Decode = %v, want %v", err, tc.err)
			}
			if err == nil && p.(*TxAck).Error != tc.want {
				t.Fatalf("Error = %q, want %q", p.(*TxAck).Error, tc.want)
			}
		})
	}
	if _, err := (&TxAck{Error: "BAD"}).MarshalBinary(); !errors.Is(err, ErrFieldRange) {
		t.Fatalf("MarshalBinary with unknown error = %v", err)
	}
}
