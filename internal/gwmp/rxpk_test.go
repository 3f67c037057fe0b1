package gwmp

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestFreqHzRoundTripExact(t *testing.T) {
	// Every Hz of the EU868 band, through the float field alone.
	var r RXPK
	for hz := uint64(863000000); hz <= 870000000; hz++ {
		r.SetFreqHz(hz)
		if got := r.FreqHz(); got != hz {
			t.Fatalf("SetFreqHz(%d) then FreqHz() = %d", hz, got)
		}
	}
	// Random frequencies over the whole accepted range, through JSON.
	rng := rand.New(rand.NewPCG(1, 2))
	hzs := []uint64{100000000, 1000000000, 866349812, 869100000, 863009810, 902300000, 927500000, 470300001}
	for range 20000 {
		hzs = append(hzs, 100000000+rng.Uint64N(900000001))
	}
	for _, hz := range hzs {
		in := sampleRXPK(t)
		in.SetFreqHz(hz)
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out RXPK
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if out.FreqHz() != hz {
			t.Fatalf("%d Hz: JSON %s came back as %d Hz", hz, b, out.FreqHz())
		}
		tx := TXPK{}
		tx.SetFreqHz(hz)
		if tx.FreqHz() != hz {
			t.Fatalf("TXPK %d Hz came back as %d", hz, tx.FreqHz())
		}
	}
}

func TestFreqHzRounds(t *testing.T) {
	tests := []struct {
		mhz  float64
		want uint64
	}{
		{866.349812, 866349812},
		{866.3498124, 866349812},
		{866.3498126, 866349813},
		{868.1, 868100000},
		{0, 0},
		{-868.1, 0},
		{1e300, 0},
	}
	for _, tc := range tests {
		if got := (&RXPK{Freq: tc.mhz}).FreqHz(); got != tc.want {
			t.Errorf("FreqHz(%v MHz) = %d, want %d", tc.mhz, got, tc.want)
		}
	}
}

func TestRXPKValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*RXPK)
		ok     bool
	}{
		{"sample", func(*RXPK) {}, true},
		{"freq 100 MHz", func(r *RXPK) { r.SetFreqHz(100000000) }, true},
		{"freq 1000 MHz", func(r *RXPK) { r.SetFreqHz(1000000000) }, true},
		{"freq 99.999999 MHz", func(r *RXPK) { r.SetFreqHz(99999999) }, false},
		{"freq 0", func(r *RXPK) { r.Freq = 0 }, false},
		{"crc none", func(r *RXPK) { r.Stat = CRCNone }, true},
		{"crc 5", func(r *RXPK) { r.Stat = 5 }, false},
		{"modu lower case", func(r *RXPK) { r.Modu = "lora" }, false},
		{"fsk datr on lora", func(r *RXPK) { r.DatR = mustFSK(t, 50000) }, false},
		{"zero datr", func(r *RXPK) { r.DatR = DataRate{} }, false},
		{"codr empty", func(r *RXPK) { r.CodR = "" }, true},
		{"codr 4/9", func(r *RXPK) { r.CodR = "4/9" }, false},
		{"rssi -200", func(r *RXPK) { r.RSSI = -200 }, true},
		{"rssi -201", func(r *RXPK) { r.RSSI = -201 }, false},
		{"rssi 21", func(r *RXPK) { r.RSSI = 21 }, false},
		{"rssis bad", func(r *RXPK) { r.RSSIS = ptr(int16(-300)) }, false},
		{"rssic bad", func(r *RXPK) { r.RSSIC = ptr(int16(100)) }, false},
		{"lsnr -20", func(r *RXPK) { r.LSNR = -20 }, true},
		{"lsnr -51", func(r *RXPK) { r.LSNR = -51 }, false},
		{"foff edge", func(r *RXPK) { r.FOff = ptr(int32(-MaxAbsFreqOffset)) }, true},
		{"size mismatch", func(r *RXPK) { r.Size = 1 }, false},
		{"data 256", func(r *RXPK) { r.SetData(make([]byte, 256)) }, false},
		{"tmms max", func(r *RXPK) { r.Tmms = ptr(uint64(MaxTmms)) }, true},
		{"tmms over", func(r *RXPK) { r.Tmms = ptr(uint64(MaxTmms + 1)) }, false},
		{"time 1970", func(r *RXPK) { r.Time = ptr(time.Unix(0, 0)) }, true},
		{"time 1969", func(r *RXPK) { r.Time = ptr(time.Unix(-1, 0)) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRXPK(t)
			tc.mutate(&r)
			err := r.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrFieldRange) {
				t.Fatalf("Validate() = %v, not ErrFieldRange", err)
			}
		})
	}
}

func TestPayloadJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{`"VEVTVA=="`, "TEST", nil},
		{`"VEVTVA"`, "TEST", nil},
		{`"QQ"`, "A", nil},
		{`""`, "", nil},
		{`null`, "", nil},
		{`"QQ="`, "", ErrFieldRange},
		{`"Q"`, "", ErrFieldRange},
		{`"-DS4"`, "", ErrFieldRange},
		{`12`, "", nil}, // a type error, reported by encoding/json itself
	}
	for _, tc := range tests {
		var p Payload
		err := p.UnmarshalJSON([]byte(tc.in))
		if tc.in == `12` {
			if err == nil {
				t.Errorf("UnmarshalJSON(12) accepted a number")
			}
			continue
		}
		if !errors.Is(err, tc.wantErr) || (err == nil && string(p) != tc.want) {
			t.Errorf("UnmarshalJSON(%s) = %q, %v; want %q, %v", tc.in, p, err, tc.want, tc.wantErr)
		}
	}
	b, _ := Payload("TEST").MarshalJSON()
	if string(b) != `"VEVTVA=="` {
		t.Errorf("MarshalJSON = %s", b)
	}
}
