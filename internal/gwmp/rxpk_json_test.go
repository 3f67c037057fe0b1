package gwmp

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// randomRXPK draws an RXPK with every optional field present or not and
// floats across the magnitudes where encoding/json switches notation.
func randomRXPK(rng *rand.Rand) RXPK {
	r := RXPK{Tmst: rng.Uint32(), Chan: uint8(rng.IntN(256)), RFCh: uint8(rng.IntN(2)), Stat: int8(rng.IntN(3) - 1),
		RSSI: int16(rng.IntN(300) - 250), Modu: ModulationLoRa, CodR: "4/5"}
	r.SetFreqHz(uint64(rng.IntN(1_000_000_000)) + 100_000_000)
	floats := []float64{0, -0.25, 9.75, -17.5, 1e-7, -3.2e-9, 5e21, 1e20, 1e-6, 123456.789, math.SmallestNonzeroFloat64, -math.MaxFloat64}
	r.LSNR = floats[rng.IntN(len(floats))]
	if rng.IntN(2) == 0 {
		r.LSNR = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(50)-25))
	}
	if rng.IntN(3) == 0 {
		dr, _ := FSKDataRate(50000)
		r.Modu, r.DatR, r.CodR = ModulationFSK, dr, ""
	} else {
		dr, _ := LoRaDataRate(7+rng.IntN(6), []int{125, 250, 500}[rng.IntN(3)])
		r.DatR = dr
	}
	if rng.IntN(2) == 0 {
		t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
		if rng.IntN(2) == 0 {
			t = t.UTC()
		}
		r.Time = &t
	}
	if rng.IntN(2) == 0 {
		v := rng.Uint64()
		r.Tmms = &v
	}
	if rng.IntN(2) == 0 {
		a, c, f := int16(rng.IntN(200)-150), int16(rng.IntN(200)-150), int32(rng.IntN(20000)-10000)
		r.RSSIS, r.RSSIC, r.FOff = &a, &c, &f
	}
	d := make([]byte, rng.IntN(256))
	for i := range d {
		d[i] = byte(rng.IntN(256))
	}
	r.SetData(d)
	return r
}

// TestRXPKAppendJSONMatchesEncodingJSON: the hand-written encoder writes
// the same bytes as encoding/json for 20,000 random packets, and declines
// (so that encoding/json runs and reports) what it does not handle.
func TestRXPKAppendJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		r := randomRXPK(rng)
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("case %d: encoding/json: %v", i, err)
		}
		got, ok := r.appendJSON(nil)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("case %d (ok %v):\n got %s\nwant %s", i, ok, got, want)
		}
	}
	for _, bad := range []RXPK{
		{Freq: math.NaN(), Modu: ModulationLoRa},
		{Freq: 868.1, LSNR: math.Inf(1), Modu: ModulationLoRa},
		{Freq: 868.1, Modu: "LO\"RA"},
		{Freq: 868.1, Modu: ModulationLoRa}, // no data rate
	} {
		if _, ok := bad.appendJSON(nil); ok {
			t.Errorf("%+v: encoded instead of deferring to encoding/json", bad)
		}
	}
}

// TestPushDataFastPathMatches: MarshalBinary's datagram is byte for byte the
// one encoding/json's body gives, with one and several packets.
func TestPushDataFastPathMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n <= 4; n++ {
		p := &PushData{Header: Header{Version: Version2, Token: 9}, GatewayEUI: EUI{1, 2, 3, 4, 5, 6, 7, 8}}
		for len(p.RXPK) < n { // random packets that pass Validate
			r := randomRXPK(rng)
			r.LSNR = float64(rng.IntN(40)) - 20
			if r.Validate() == nil {
				p.RXPK = append(p.RXPK, r)
			}
		}
		got, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		body, err := marshalBody(pushDataBody{RXPK: p.RXPK})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[GatewayHeaderSize:], body) {
			t.Fatalf("%d packets:\n got %s\nwant %s", n, got[GatewayHeaderSize:], body)
		}
		var back PushData
		if err := back.UnmarshalBinary(got); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	}
}
