package gwmp

import (
	"errors"
	"testing"
	"time"
)

func TestTXPKValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*TXPK)
		ok     bool
	}{
		{"sample", func(*TXPK) {}, true},
		{"imme only", func(x *TXPK) { x.Tmst, x.Imme = nil, true }, true},
		{"tmms only", func(x *TXPK) { x.Tmst, x.Tmms = nil, ptr(uint64(1362006897523)) }, true},
		{"time only", func(x *TXPK) { x.Tmst, x.Time = nil, ptr(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }, true},
		{"no timing", func(x *TXPK) { x.Tmst = nil }, false},
		{"tmst zero is a time", func(x *TXPK) { x.Tmst = ptr(uint32(0)) }, true},
		{"tmms over", func(x *TXPK) { x.Tmms = ptr(uint64(MaxTmms + 1)) }, false},
		{"powe 0", func(x *TXPK) { x.Powe = 0 }, true},
		{"powe 30", func(x *TXPK) { x.Powe = 30 }, true},
		{"powe 31", func(x *TXPK) { x.Powe = 31 }, false},
		{"freq 1001", func(x *TXPK) { x.SetFreqHz(1001000000) }, false},
		{"freq missing", func(x *TXPK) { x.Freq = 0 }, false},
		{"modu missing", func(x *TXPK) { x.Modu = "" }, false},
		{"lora without codr", func(x *TXPK) { x.CodR = "" }, false},
		{"lora codr OFF", func(x *TXPK) { x.CodR = "OFF" }, false},
		{"lora codr 2/3", func(x *TXPK) { x.CodR = "2/3" }, true},
		{"datr fsk on lora", func(x *TXPK) { x.DatR = mustFSK(t, 50000) }, false},
		{"fsk", func(x *TXPK) { x.Modu, x.DatR, x.CodR, x.FDev = ModulationFSK, mustFSK(t, 50000), "", 3000 }, true},
		{"fsk without fdev", func(x *TXPK) { x.Modu, x.DatR, x.CodR = ModulationFSK, mustFSK(t, 50000), "" }, false},
		{"fsk fdev huge", func(x *TXPK) { x.Modu, x.DatR, x.CodR, x.FDev = ModulationFSK, mustFSK(t, 50000), "", 300000 }, false},
		{"no data", func(x *TXPK) { x.SetData(nil) }, false},
		{"size mismatch", func(x *TXPK) { x.Size = 200 }, false},
		{"data 255", func(x *TXPK) { x.SetData(make([]byte, 255)) }, true},
		{"data 256", func(x *TXPK) { x.SetData(make([]byte, 256)) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := sampleTXPK(t)
			tc.mutate(&x)
			err := x.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrFieldRange) {
				t.Fatalf("Validate() = %v, not ErrFieldRange", err)
			}
		})
	}
}
