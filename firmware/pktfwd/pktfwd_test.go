package pktfwd

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// channels decodes global_conf.json and returns the absolute frequencies of the
// enabled multi-SF channels and of chan_Lora_std (0 when disabled).
func channels(t *testing.T, data []byte) ([]int64, int64, map[string]any) {
	t.Helper()
	var doc struct {
		SX map[string]json.RawMessage `json:"SX1301_conf"`
		GW map[string]any             `json:"gateway_conf"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var radios [2]struct{ Freq int64 }
	for i := range radios {
		json.Unmarshal(doc.SX[[]string{"radio_0", "radio_1"}[i]], &radios[i])
	}
	abs := func(key string) (int64, bool) {
		var c struct {
			Enable bool
			Radio  int
			IF     int64 `json:"if"`
		}
		json.Unmarshal(doc.SX[key], &c)
		return radios[c.Radio].Freq + c.IF, c.Enable
	}
	var multi []int64
	for i := 0; i < 8; i++ {
		if f, ok := abs("chan_multiSF_" + string(rune('0'+i))); ok {
			multi = append(multi, f)
		}
	}
	slices.Sort(multi)
	std, ok := abs("chan_Lora_std")
	if !ok {
		std = 0
	}
	return multi, std, doc.GW
}

func TestReferencePlans(t *testing.T) {
	cases := []struct {
		region  string
		subBand int
		multi   []int64
		std     int64
	}{
		{"EU868", 0, []int64{867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000, 868_100_000, 868_300_000, 868_500_000}, 868_300_000},
		{"US915", 2, []int64{903_900_000, 904_100_000, 904_300_000, 904_500_000, 904_700_000, 904_900_000, 905_100_000, 905_300_000}, 904_600_000},
		{"US915", 1, []int64{902_300_000, 902_500_000, 902_700_000, 902_900_000, 903_100_000, 903_300_000, 903_500_000, 903_700_000}, 903_000_000},
		{"AU915", 2, []int64{916_800_000, 917_000_000, 917_200_000, 917_400_000, 917_600_000, 917_800_000, 918_000_000, 918_200_000}, 917_500_000},
		{"IN865", 0, []int64{865_062_500, 865_402_500, 865_985_000}, 0},
	}
	for _, c := range cases {
		p, err := NewPlan(c.region, c.subBand)
		if err != nil {
			t.Fatal(err)
		}
		data, err := p.GlobalConf(DefaultGateway())
		if err != nil {
			t.Fatal(err)
		}
		multi, std, gw := channels(t, data)
		if !slices.Equal(multi, c.multi) || std != c.std {
			t.Errorf("%s/%d: channels %v std %d, want %v std %d", c.region, c.subBand, multi, std, c.multi, c.std)
		}
		if gw["server_address"] != "localhost" || gw["serv_port_up"] != float64(1680) || gw["serv_port_down"] != float64(1680) {
			t.Errorf("%s: gateway_conf %v", c.region, gw)
		}
	}
	// The US915 sub-band 2 radio centres of Semtech's reference layout.
	p, _ := NewPlan("US915", 2)
	if p.Radio != [2]uint32{904_300_000, 905_000_000} {
		t.Errorf("US915 SB2 radios %v", p.Radio)
	}
}

func TestEveryRegionValid(t *testing.T) {
	for _, r := range Regions {
		for sb := 0; sb <= 8; sb++ {
			if sb > 0 && !HasSubBands(r) {
				break
			}
			p, err := NewPlan(r, sb)
			if err != nil {
				t.Fatalf("%s/%d: %v", r, sb, err)
			}
			if _, err := p.GlobalConf(DefaultGateway()); err != nil {
				t.Errorf("%s/%d: %v", r, sb, err)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	if _, err := NewPlan("XX123", 0); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	if _, err := NewPlan("US915", 9); !errors.Is(err, ErrBadSubBand) {
		t.Errorf("sub-band 9: %v", err)
	}
	if _, err := NewPlan("EU868", 2); !errors.Is(err, ErrBadSubBand) {
		t.Errorf("EU868 sub-band: %v", err)
	}
}
