package gwmp

import "testing"

// eightRXPK returns a PUSH_DATA with eight full-size rxpk and a stat.
func eightRXPK(b *testing.B) *PushData {
	p := &PushData{Header: Header{Version: 2, Token: 1}, GatewayEUI: testEUI, Stat: &Stat{RXNb: 8, RXOK: 8, RXFW: 8, ACKR: 100}}
	for i := range 8 {
		r := sampleRXPK(b)
		r.Chan = uint8(i)
		r.SetData(make([]byte, MaxPayloadSize))
		p.RXPK = append(p.RXPK, r)
	}
	return p
}

func BenchmarkDecodePushData8(b *testing.B) {
	dg, err := eightRXPK(b).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(dg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePushData8(b *testing.B) {
	p := eightRXPK(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePullResp(b *testing.B) {
	dg, err := (&PullResp{Header: Header{Version: 2, Token: 1}, TXPK: sampleTXPK(b)}).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(dg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePushData1 is the router's datagram: one rxpk of a 25-byte
// uplink, no stat (the hand-written encoder's path).
func BenchmarkEncodePushData1(b *testing.B) {
	r := sampleRXPK(b)
	r.SetData(make([]byte, 25))
	p := &PushData{Header: Header{Version: 2, Token: 1}, GatewayEUI: testEUI, RXPK: []RXPK{r}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
