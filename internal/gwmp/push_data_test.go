package gwmp

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPushDataRoundTrip(t *testing.T) {
	lora := sampleRXPK(t)
	fsk := RXPK{Tmst: 7, Chan: 8, RFCh: 1, Stat: CRCOK, Modu: ModulationFSK, DatR: mustFSK(t, 50000), RSSI: -75}
	fsk.SetFreqHz(868800000)
	fsk.SetData([]byte("TEST_PACKET_1234"))
	crcBad := sampleRXPK(t)
	crcBad.Stat, crcBad.Time, crcBad.CodR = CRCBad, nil, "OFF"
	sx1302 := sampleRXPK(t)
	sx1302.Tmms, sx1302.RSSIS, sx1302.RSSIC, sx1302.FOff = ptr(uint64(1362006897523)), ptr(int16(-40)), ptr(int16(-37)), ptr(int32(-2769))
	empty := sampleRXPK(t)
	empty.SetData(nil)
	full := sampleRXPK(t)
	full.SetData(bytes.Repeat([]byte{0xa5}, MaxPayloadSize))
	stat := &Stat{RXNb: 2, RXOK: 2, RXFW: 2, ACKR: 100, DWNb: 2, TXNb: 2}
	stat.SetTime(time.Date(2014, 1, 12, 8, 59, 28, 0, time.UTC))
	statGPS := &Stat{RXNb: 10, RXOK: 7, RXFW: 7, ACKR: 66.7}
	statGPS.SetLocation(46.24, 3.2523, 145)
	eight := make([]RXPK, 8)
	for i := range eight {
		eight[i] = full
		eight[i].Chan = uint8(i)
	}

	tests := []struct {
		name string
		in   PushData
	}{
		{"one lora", PushData{Header: Header{Version: 2, Token: 0x0102}, GatewayEUI: testEUI, RXPK: []RXPK{lora}}},
		{"fsk", PushData{Header: Header{Version: 2, Token: 0xffff}, GatewayEUI: testEUI, RXPK: []RXPK{fsk}}},
		{"crc bad no time", PushData{Header: Header{Version: 2}, GatewayEUI: testEUI, RXPK: []RXPK{crcBad}}},
		{"sx1302 fields", PushData{Header: Header{Version: 2, Token: 9}, GatewayEUI: testEUI, RXPK: []RXPK{sx1302}}},
		{"empty payload", PushData{Header: Header{Version: 2, Token: 9}, GatewayEUI: testEUI, RXPK: []RXPK{empty}}},
		{"stat only", PushData{Header: Header{Version: 2, Token: 3}, GatewayEUI: testEUI, Stat: stat}},
		{"stat with gps", PushData{Header: Header{Version: 2, Token: 3}, GatewayEUI: testEUI, Stat: statGPS}},
		{"rxpk and stat", PushData{Header: Header{Version: 2, Token: 4}, GatewayEUI: testEUI, RXPK: []RXPK{lora, fsk}, Stat: stat}},
		{"version 1", PushData{Header: Header{Version: 1, Token: 5}, GatewayEUI: testEUI, RXPK: []RXPK{lora}}},
		{"nothing", PushData{Header: Header{Version: 2, Token: 6}, GatewayEUI: testEUI}},
		{"eight full packets", PushData{Header: Header{Version: 2, Token: 7}, GatewayEUI: testEUI, RXPK: eight}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.in.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			want := []byte{tc.in.Version, byte(tc.in.Token >> 8), byte(tc.in.Token), 0x00}
			if !bytes.Equal(b[:4], want) || !bytes.Equal(b[4:12], testEUI[:]) {
				t.Fatalf("header % x, want % x + EUI", b[:12], want)
			}
			p, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b[12:], err)
			}
			if got := p.(*PushData); !reflect.DeepEqual(*got, tc.in) {
				t.Fatalf("round trip\n got %+v\nwant %+v\njson %s", *got, tc.in, b[12:])
			}
		})
	}
	// The reference forwarder budgets 540 bytes of JSON per rxpk; a
	// full-size rxpk of ours must fit the same budget.
	b, _ := tests[len(tests)-1].in.MarshalBinary()
	if limit := GatewayHeaderSize + 30 + 8*540; len(b) > limit {
		t.Errorf("eight 255-byte rxpk encode to %d bytes, reference budget %d", len(b), limit)
	}
}

func TestPushDataSpecExamples(t *testing.T) {
	eui := testEUI
	// The spec's full example: its first rxpk is not base64.
	_, err := Decode(datagram(2, 1, TypePushData, &eui, `{"rxpk":[`+specRxpkBadBase64+`,`+specRxpkFSK+`,`+specRxpkLoRa+`]}`))
	if !errors.Is(err, ErrFieldRange) {
		t.Fatalf("spec example with bad base64: %v, want ErrFieldRange", err)
	}
	p, err := Decode(datagram(2, 1, TypePushData, &eui, `{"rxpk":[`+specRxpkFSK+`,`+specRxpkLoRa+`],"stat":`+specStat+`}`))
	if err != nil {
		t.Fatal(err)
	}
	pd := p.(*PushData)
	if len(pd.RXPK) != 2 || pd.Stat == nil {
		t.Fatalf("decoded %+v", pd)
	}
	fsk, lora := pd.RXPK[0], pd.RXPK[1]
	if fsk.FreqHz() != 869100000 || !fsk.DatR.IsFSK() || fsk.DatR.BitRate() != 50000 || string(fsk.Data) != "TEST_PACKET_1234" || fsk.RSSI != -75 {
		t.Errorf("FSK rxpk: %+v", fsk)
	}
	wantTime := time.Date(2013, 3, 31, 16, 21, 17, 532038000, time.UTC)
	if lora.FreqHz() != 863009810 || lora.DatR.SF() != 10 || lora.DatR.BandwidthKHz() != 125 || lora.CodR != "4/7" ||
		lora.Tmst != 3316387610 || lora.LSNR != 5.5 || lora.Size != 32 || len(lora.Data) != 32 || !lora.Time.Equal(wantTime) {
		t.Errorf("LoRa rxpk: %+v", lora)
	}
	st := pd.Stat
	if *st.Lati != 46.24 || *st.Long != 3.2523 || *st.Alti != 145 || st.RXNb != 2 || st.ACKR != 100 || st.TXNb != 2 {
		t.Errorf("stat: %+v", st)
	}
	if ts, err := st.ParseTime(); err != nil || !ts.Equal(time.Date(2014, 1, 12, 8, 59, 28, 0, time.UTC)) {
		t.Errorf("stat time %v, %v", ts, err)
	}
}

func TestPushDataSX1302Fields(t *testing.T) {
	eui := testEUI
	p, err := Decode(datagram(2, 1, TypePushData, &eui, `{"rxpk":[`+sx1302Rxpk+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.(*PushData).RXPK[0]
	if r.Tmms == nil || *r.Tmms != 1362006897523 || r.RSSIS == nil || *r.RSSIS != -14 || r.RSSIC != nil ||
		r.FOff == nil || *r.FOff != -2769 || r.FreqHz() != 903500000 || r.DatR.SF() != 9 {
		t.Fatalf("sx1302 rxpk: %+v", r)
	}
}

func TestPushDataTolerance(t *testing.T) {
	eui := testEUI
	tests := []struct {
		name string
		body string
	}{
		{"trailing NUL", `{"stat":` + specStat + "}\x00"},
		{"whitespace", "\n {\"rxpk\":[" + specRxpkFSK + "]}\r\n"},
		{"unknown fields", `{"rxpk":[` + sx1302Rxpk + `],"extra":{"a":[1,2]}}`},
		{"unpadded base64", `{"rxpk":[` + strings.Replace(specRxpkFSK, `MTIzNA=="`, `MTIzNA"`, 1) + `]}`},
		{"empty rxpk array", `{"rxpk":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(datagram(2, 1, TypePushData, &eui, tc.body)); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

func TestPushDataErrors(t *testing.T) {
	eui := testEUI
	rx := func(old, new string) string {
		return `{"rxpk":[` + strings.Replace(specRxpkLoRa, old, new, 1) + `]}`
	}
	tests := []struct {
		name string
		body string
		want error
	}{
		{"not json", `hello`, ErrBadJSON},
		{"array", `[1,2]`, ErrBadJSON},
		{"null", `null`, ErrBadJSON},
		{"truncated", `{"rxpk":[` + specRxpkLoRa[:50], ErrBadJSON},
		{"trailing garbage", `{"rxpk":[]}xyz`, ErrBadJSON},
		{"rxpk not array", `{"rxpk":{}}`, ErrBadJSON},
		{"tmst string", rx(`"tmst":3316387610`, `"tmst":"3316387610"`), ErrBadJSON},
		{"tmst 33 bits", rx(`"tmst":3316387610`, `"tmst":8589934592`), ErrBadJSON},
		{"tmst negative", rx(`"tmst":3316387610`, `"tmst":-1`), ErrBadJSON},
		{"bad time", rx(`2013-03-31T16:21:17.532038Z`, `yesterday`), ErrBadJSON},
		{"freq too low", rx(`863.00981`, `99.999999`), ErrFieldRange},
		{"freq too high", rx(`863.00981`, `1000.000001`), ErrFieldRange},
		{"freq in Hz", rx(`863.00981`, `863009810`), ErrFieldRange},
		{"stat 2", rx(`"stat":1`, `"stat":2`), ErrFieldRange},
		{"stat -2", rx(`"stat":1`, `"stat":-2`), ErrFieldRange},
		{"modu unknown", rx(`"LORA"`, `"LR-FHSS"`), ErrFieldRange},
		{"modu missing", rx(`"modu":"LORA",`, ``), ErrFieldRange},
		{"modu fsk with lora datr", rx(`"LORA"`, `"FSK"`), ErrFieldRange},
		{"datr SF13", rx(`SF10BW125`, `SF13BW125`), ErrFieldRange},
		{"datr BW999", rx(`SF10BW125`, `SF7BW999`), ErrFieldRange},
		{"datr junk", rx(`SF10BW125`, `fast`), ErrFieldRange},
		{"datr missing", rx(`"datr":"SF10BW125",`, ``), ErrFieldRange},
		{"datr object", rx(`"SF10BW125"`, `{}`), ErrBadJSON},
		{"codr junk", rx(`4/7`, `5/4`), ErrFieldRange},
		{"rssi too low", rx(`"rssi":-38`, `"rssi":-201`), ErrFieldRange},
		{"rssi too high", rx(`"rssi":-38`, `"rssi":21`), ErrFieldRange},
		{"rssi float", rx(`"rssi":-38`, `"rssi":-38.5`), ErrBadJSON},
		{"lsnr huge", rx(`"lsnr":5.5`, `"lsnr":99`), ErrFieldRange},
		{"size mismatch", rx(`"size":32`, `"size":31`), ErrFieldRange},
		{"size missing", rx(`"size":32,`, ``), ErrFieldRange},
		{"bad base64", rx(`ysgRl452`, `ysgR!452`), ErrFieldRange},
		{"data too long", rx(`"size":32,"data":"ysgRl452xNLep9S1NTIg2lomKDxUgn3DJ7DE+b00Ass"`,
			`"size":256,"data":"`+strings.Repeat("AAAA", 85)+`AAA="`), ErrFieldRange},
		{"foff huge", rx(`"size":32`, `"foff":9000000,"size":32`), ErrFieldRange},
		{"tmms huge", rx(`"size":32`, `"tmms":9007199254740993,"size":32`), ErrFieldRange},
		{"stat lati", `{"stat":` + strings.Replace(specStat, `46.24000`, `91`, 1) + `}`, ErrFieldRange},
		{"stat long", `{"stat":` + strings.Replace(specStat, `3.25230`, `-180.5`, 1) + `}`, ErrFieldRange},
		{"stat ackr", `{"stat":` + strings.Replace(specStat, `100.0`, `100.1`, 1) + `}`, ErrFieldRange},
		{"stat alti", `{"stat":` + strings.Replace(specStat, `145`, `90000`, 1) + `}`, ErrFieldRange},
		{"stat rxnb negative", `{"stat":` + strings.Replace(specStat, `"rxnb":2`, `"rxnb":-2`, 1) + `}`, ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(datagram(2, 1, TypePushData, &eui, tc.body))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func TestPushDataMarshalValidates(t *testing.T) {
	r := sampleRXPK(t)
	r.Size++
	if _, err := (&PushData{RXPK: []RXPK{r}}).MarshalBinary(); !errors.Is(err, ErrFieldRange) {
		t.Fatalf("MarshalBinary with size mismatch = %v", err)
	}
	if _, err := (&PushData{RXPK: []RXPK{{}}}).MarshalBinary(); !errors.Is(err, ErrFieldRange) {
		t.Fatalf("MarshalBinary with empty rxpk = %v", err)
	}
}

func TestPushDataAck(t *testing.T) {
	p := &PushData{Header: Header{Version: 1, Token: 0xcafe}}
	b, err := p.Ack().MarshalBinary()
	if err != nil || !bytes.Equal(b, []byte{1, 0xca, 0xfe, 0x01}) {
		t.Fatalf("Ack = % x, %v", b, err)
	}
}
