package gwmp

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseDataRate(t *testing.T) {
	tests := []struct {
		in     string
		sf, bw int
		bps    int
		ok     bool
	}{
		{"SF7BW125", 7, 125, 0, true},
		{"SF12BW500", 12, 500, 0, true},
		{"SF5BW250", 5, 250, 0, true},
		{"SF10BW125", 10, 125, 0, true},
		{"50000", 0, 0, 50000, true},
		{"500", 0, 0, 500, true},
		{"SF13BW125", 0, 0, 0, false},
		{"SF4BW125", 0, 0, 0, false},
		{"SF7BW999", 0, 0, 0, false},
		{"SF7BW62", 0, 0, 0, false},
		{"SF07BW125", 0, 0, 0, false},
		{"SF7BW0125", 0, 0, 0, false},
		{"sf7bw125", 0, 0, 0, false},
		{"SF7 BW125", 0, 0, 0, false},
		{"SF7BW125 ", 0, 0, 0, false},
		{"SFBW125", 0, 0, 0, false},
		{"SF7BW", 0, 0, 0, false},
		{"SF7", 0, 0, 0, false},
		{"SF-7BW125", 0, 0, 0, false},
		{"SF99999999999BW125", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"499", 0, 0, 0, false},
		{"250001", 0, 0, 0, false},
		{"050000", 0, 0, 0, false},
		{"5e4", 0, 0, 0, false},
	}
	for _, tc := range tests {
		d, err := ParseDataRate(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseDataRate(%q) = %v, %v; want ok=%v", tc.in, d, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrFieldRange) {
				t.Errorf("ParseDataRate(%q) error %v is not ErrFieldRange", tc.in, err)
			}
			continue
		}
		if d.SF() != tc.sf || d.BandwidthKHz() != tc.bw || d.BitRate() != tc.bps {
			t.Errorf("ParseDataRate(%q) = SF%d BW%d %d bps", tc.in, d.SF(), d.BandwidthKHz(), d.BitRate())
		}
		if d.String() != tc.in {
			t.Errorf("ParseDataRate(%q).String() = %q", tc.in, d.String())
		}
	}
}

func TestDataRateJSON(t *testing.T) {
	tests := []struct {
		json string
		want DataRate
		err  bool
	}{
		{`"SF7BW125"`, mustLoRa(t, 7, 125), false},
		{`"SF12BW500"`, mustLoRa(t, 12, 500), false},
		{`50000`, mustFSK(t, 50000), false},
		{`"50000"`, DataRate{}, true},
		{`50000.5`, DataRate{}, true},
		{`-50000`, DataRate{}, true},
		{`"SF13BW125"`, DataRate{}, true},
		{`true`, DataRate{}, true},
	}
	for _, tc := range tests {
		var d DataRate
		err := json.Unmarshal([]byte(tc.json), &d)
		if tc.err != (err != nil) || d != tc.want {
			t.Errorf("Unmarshal(%s) = %v, %v", tc.json, d, err)
			continue
		}
		if err != nil {
			continue
		}
		b, err := json.Marshal(d)
		if err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", d, b, err, tc.json)
		}
	}
	if _, err := json.Marshal(DataRate{}); !errors.Is(err, ErrFieldRange) {
		t.Errorf("Marshal(zero DataRate) = %v", err)
	}
}

func TestDataRateAccessors(t *testing.T) {
	l, f := mustLoRa(t, 9, 125), mustFSK(t, 50000)
	if !l.IsLoRa() || l.IsFSK() || l.Modulation() != ModulationLoRa || l.IsZero() {
		t.Errorf("LoRa accessors wrong: %v", l)
	}
	if f.IsLoRa() || !f.IsFSK() || f.Modulation() != ModulationFSK || f.SF() != 0 || f.BandwidthKHz() != 0 {
		t.Errorf("FSK accessors wrong: %v", f)
	}
	if z := (DataRate{}); !z.IsZero() || z.Modulation() != "" || z.String() != "" {
		t.Errorf("zero accessors wrong")
	}
	if _, err := LoRaDataRate(7, 100); err == nil {
		t.Errorf("LoRaDataRate(7, 100) accepted")
	}
}

// FuzzParseDataRate checks that the parser never panics and accepts only
// canonical identifiers: whatever it accepts prints back to the same text
// and marshals to JSON that decodes to the same DataRate.
func FuzzParseDataRate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDataRate(s)
		if err != nil {
			if !errors.Is(err, ErrFieldRange) {
				t.Fatalf("ParseDataRate(%q) error %v is not ErrFieldRange", s, err)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDataRate(%q).String() = %q", s, d.String())
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back DataRate
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("JSON %s came back as %v, %v", b, back, err)
		}
	})
}
