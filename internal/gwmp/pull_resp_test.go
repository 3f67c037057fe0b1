package gwmp

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPullRespRoundTrip(t *testing.T) {
	tmst := sampleTXPK(t)
	imme := sampleTXPK(t)
	imme.Tmst, imme.Imme, imme.Prea, imme.NCRC = nil, true, 8, true
	gps := sampleTXPK(t)
	gps.Tmst, gps.Tmms = nil, ptr(uint64(1362006897523))
	v1time := sampleTXPK(t)
	v1time.Tmst, v1time.Time = nil, ptr(time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC))
	fsk := TXPK{Imme: true, Powe: 12, Modu: ModulationFSK, DatR: mustFSK(t, 50000), FDev: 3000}
	fsk.SetFreqHz(861300000)
	fsk.SetData(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name string
		in   PullResp
	}{
		{"tmst", PullResp{Header: Header{Version: 2, Token: 0x0a0b}, TXPK: tmst}},
		{"imme", PullResp{Header: Header{Version: 2, Token: 1}, TXPK: imme}},
		{"gps", PullResp{Header: Header{Version: 2, Token: 2}, TXPK: gps}},
		{"fsk", PullResp{Header: Header{Version: 2, Token: 3}, TXPK: fsk}},
		{"v1 time", PullResp{Header: Header{Version: 1}, TXPK: v1time}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.in.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			if want := []byte{tc.in.Version, byte(tc.in.Token >> 8), byte(tc.in.Token), 0x03}; !bytes.Equal(b[:4], want) {
				t.Fatalf("header % x, want % x", b[:4], want)
			}
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b[4:], err)
			}
			if got := p.(*PullResp); !reflect.DeepEqual(*got, tc.in) {
				t.Fatalf("round trip\n got %+v\nwant %+v\njson %s", got.TXPK, tc.in.TXPK, b[4:])
			}
		})
	}
}

func TestPullRespSpecExamples(t *testing.T) {
	p, err := Decode(datagram(2, 0, TypePullResp, nil, specTxpkLoRa))
	if err != nil {
		t.Fatal(err)
	}
	x := p.(*PullResp).TXPK
	if !x.Imme || x.FreqHz() != 864123456 || x.Powe != 14 || x.DatR.SF() != 11 || x.CodR != "4/6" || x.IPol || x.Size != 32 || len(x.Data) != 32 {
		t.Errorf("LoRa txpk: %+v", x)
	}
	p, err = Decode(datagram(2, 0, TypePullResp, nil, specTxpkFSK))
	if err != nil {
		t.Fatal(err)
	}
	x = p.(*PullResp).TXPK
	if x.FreqHz() != 861300000 || x.Modu != ModulationFSK || x.DatR.BitRate() != 50000 || x.FDev != 3000 || x.Powe != 12 {
		t.Errorf("FSK txpk: %+v", x)
	}
}

func TestPullRespErrors(t *testing.T) {
	tx := func(old, new string) string { return strings.Replace(specTxpkLoRa, old, new, 1) }
	tests := []struct {
		name string
		body string
		want error
	}{
		{"no txpk", `{"rxpk":[]}`, ErrBadJSON},
		{"txpk null", `{"txpk":null}`, ErrBadJSON},
		{"txpk array", `{"txpk":[]}`, ErrBadJSON},
		{"powe 31", tx(`"powe":14`, `"powe":31`), ErrFieldRange},
		{"powe negative", tx(`"powe":14`, `"powe":-1`), ErrBadJSON},
		{"no timing", tx(`"imme":true,`, ``), ErrFieldRange},
		{"freq 0", tx(`864.123456`, `0`), ErrFieldRange},
		{"datr SF13", tx(`SF11BW125`, `SF13BW125`), ErrFieldRange},
		{"codr missing", tx(`"codr":"4/6",`, ``), ErrFieldRange},
		{"size mismatch", tx(`"size":32`, `"size":33`), ErrFieldRange},
		{"bad base64", tx(`H3P3`, `H3P*`), ErrFieldRange},
		{"imme string", tx(`"imme":true`, `"imme":"yes"`), ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(datagram(2, 1, TypePullResp, nil, tc.body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func TestPullRespAck(t *testing.T) {
	p := &PullResp{Header: Header{Version: 2, Token: 0x4242}}
	a := p.Ack(testEUI, TxErrorTooLate)
	if a.Token != 0x4242 || a.Version != 2 || a.GatewayEUI != testEUI || a.Error != TxErrorTooLate {
		t.Fatalf("Ack = %+v", a)
	}
}
