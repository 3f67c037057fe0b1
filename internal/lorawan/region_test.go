package lorawan

import (
	"errors"
	"testing"
	"time"

	lw "github.com/brocaar/lorawan"
	"github.com/brocaar/lorawan/band"

	"github.com/hexnet/hexnet/internal/wire"
)

func TestParseRegion(t *testing.T) {
	ok := map[string]wire.Region{
		"EU868": wire.Region_EU868, "eu868": wire.Region_EU868, " US915 ": wire.Region_US915,
		"AU915": wire.Region_AU915, "AS923-1": wire.Region_AS923_1, "AS923_1": wire.Region_AS923_1,
		"as923": wire.Region_AS923_1, "as923-2": wire.Region_AS923_2, "AS923_3": wire.Region_AS923_3,
		"AS923-4": wire.Region_AS923_4, "in865": wire.Region_IN865, "KR920": wire.Region_KR920,
	}
	for in, want := range ok {
		if got, err := ParseRegion(in); err != nil || got != want {
			t.Errorf("ParseRegion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "EU433", "AS923-5", "US902", "REGION_UNKNOWN"} {
		if _, err := ParseRegion(in); !errors.Is(err, ErrUnknownRegion) {
			t.Errorf("ParseRegion(%q) err = %v", in, err)
		}
	}
	if _, err := RegionByID(wire.Region_REGION_UNKNOWN); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("RegionByID(unknown) err = %v", err)
	}
	for _, id := range Regions() {
		r, err := RegionByID(id)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseRegion(r.Name); err != nil || back != id {
			t.Errorf("%s does not round-trip", r.Name)
		}
		if back, err := ParseRegion(id.String()); err != nil || back != id {
			t.Errorf("wire name %s does not parse", id)
		}
	}
}

// TestBeacon pins the beacon choices of DESIGN.md Appendix A.
func TestBeacon(t *testing.T) {
	cases := []struct {
		id       wire.Region
		dr       string
		idx      int
		channels []uint64
	}{
		{wire.Region_EU868, "SF12BW125", 0, []uint64{868100000, 868300000, 868500000}},
		{wire.Region_US915, "SF9BW125", 1, []uint64{903900000, 904100000, 904300000, 904500000, 904700000, 904900000, 905100000, 905300000}},
		{wire.Region_AU915, "SF9BW125", 3, []uint64{916800000, 917000000, 917200000, 917400000, 917600000, 917800000, 918000000, 918200000}},
		{wire.Region_AS923_1, "SF9BW125", 3, []uint64{923200000, 923400000}},
		{wire.Region_AS923_2, "SF9BW125", 3, []uint64{921400000, 921600000}},
		{wire.Region_AS923_3, "SF9BW125", 3, []uint64{916600000, 916800000}},
		{wire.Region_AS923_4, "SF9BW125", 3, []uint64{917300000, 917500000}},
		{wire.Region_IN865, "SF12BW125", 0, []uint64{865062500, 865402500, 865985000}},
		{wire.Region_KR920, "SF12BW125", 0, []uint64{922100000, 922300000, 922500000}},
	}
	for _, c := range cases {
		r, err := RegionByID(c.id)
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.BeaconDataRate(51)
		if err != nil || d.Name != c.dr || d.Index != c.idx || d.MaxPayload < 51 {
			t.Errorf("%s: BeaconDataRate = %+v, %v; want DR%d %s", r.Name, d, err, c.idx, c.dr)
		}
		chs := r.BeaconChannels()
		if len(chs) != len(c.channels) {
			t.Fatalf("%s: %d beacon channels, want %d", r.Name, len(chs), len(c.channels))
		}
		for i, ch := range chs {
			if ch.Frequency != c.channels[i] || ch.BandwidthKHz != 125 {
				t.Errorf("%s: beacon channel %d = %+v, want %d Hz 125 kHz", r.Name, i, ch, c.channels[i])
			}
		}
		if _, err := r.BeaconDataRate(243); err == nil {
			t.Errorf("%s: 243 bytes fit a data rate", r.Name)
		}
	}
}

func TestSubBand(t *testing.T) {
	us, _ := RegionByID(wire.Region_US915)
	if len(us.Channels) != 72 {
		t.Fatalf("US915 has %d channels", len(us.Channels))
	}
	sb, err := us.SubBand(2)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]Channel{}, us.Channels[8:16]...)
	want = append(want, us.Channels[65])
	for i := range want {
		if sb[i] != want[i] {
			t.Errorf("sub-band 2 channel %d = %+v, want %+v", i, sb[i], want[i])
		}
	}
	if sb[8] != (Channel{Frequency: 904600000, BandwidthKHz: 500}) {
		t.Errorf("channel 65 = %+v", sb[8])
	}
	if us.Channels[0].Frequency != 902300000 || us.Channels[63].Frequency != 914900000 || us.Channels[71].Frequency != 914200000 {
		t.Error("US915 channel plan edges")
	}
	au, _ := RegionByID(wire.Region_AU915)
	if au.Channels[0].Frequency != 915200000 || au.Channels[64].Frequency != 915900000 {
		t.Error("AU915 channel plan edges")
	}
	for _, n := range []int{0, 9} {
		if _, err := us.SubBand(n); err == nil {
			t.Errorf("sub-band %d accepted", n)
		}
	}
	eu, _ := RegionByID(wire.Region_EU868)
	if _, err := eu.SubBand(1); err == nil {
		t.Error("EU868 has sub-bands")
	}
}

func TestRegionBasics(t *testing.T) {
	for _, id := range Regions() {
		r, _ := RegionByID(id)
		if r.RX1Delay != time.Second || r.JoinAccept1Delay != 5*time.Second {
			t.Errorf("%s: delays %v %v", r.Name, r.RX1Delay, r.JoinAccept1Delay)
		}
		for i, d := range r.DataRates {
			if i > 0 && d.Index <= r.DataRates[i-1].Index {
				t.Errorf("%s: data rates out of order", r.Name)
			}
			if got, err := r.DataRate(d.Index); err != nil || got != d {
				t.Errorf("%s: DataRate(%d) = %+v, %v", r.Name, d.Index, got, err)
			}
			if got, err := r.DataRateByName(d.Name, d.Uplink); err != nil || got.Name != d.Name {
				t.Errorf("%s: DataRateByName(%s) = %+v, %v", r.Name, d.Name, got, err)
			}
		}
		if _, err := r.DataRate(15); err == nil {
			t.Errorf("%s: DR15 exists", r.Name)
		}
		// Each call returns a fresh copy.
		r.Channels[0].Frequency = 1
		again, _ := RegionByID(id)
		if again.Channels[0].Frequency == 1 {
			t.Errorf("%s: RegionByID shares state", r.Name)
		}
	}
	us, _ := RegionByID(wire.Region_US915)
	if d, _ := us.DataRateByName("sf8bw500", true); d.Index != 4 {
		t.Errorf("US915 uplink SF8BW500 = DR%d", d.Index)
	}
	if d, _ := us.DataRateByName("SF8BW500", false); d.Index != 12 {
		t.Errorf("US915 downlink SF8BW500 = DR%d", d.Index)
	}
	if f, err := us.RX1Frequency(904100000); err != nil || f != 923300000+1*600000 { // channel 9
		t.Errorf("US915 RX1Frequency(ch 9) = %d, %v", f, err)
	}
	if _, err := us.RX1Frequency(868100000); err == nil {
		t.Error("US915 RX1Frequency of a foreign frequency")
	}
	eu, _ := RegionByID(wire.Region_EU868)
	if f, _ := eu.RX1Frequency(868300000); f != 868300000 {
		t.Errorf("EU868 RX1Frequency = %d", f)
	}
	if _, err := eu.RX1DataRate(5, 6); err == nil {
		t.Error("EU868 accepted RX1DROffset 6")
	}
	if _, err := us.RX1DataRate(8, 0); err == nil {
		t.Error("US915 accepted downlink DR8 as an uplink DR")
	}
}

// TestRegionsMatchBrocaar checks our RP002 tables against brocaar/lorawan's
// band package, an independent implementation of the same document.
func TestRegionsMatchBrocaar(t *testing.T) {
	names := map[wire.Region]band.Name{
		wire.Region_EU868: band.EU868, wire.Region_US915: band.US915, wire.Region_AU915: band.AU915,
		wire.Region_AS923_1: band.AS923, wire.Region_AS923_2: band.AS923_2, wire.Region_AS923_3: band.AS923_3,
		wire.Region_AS923_4: band.AS923_4, wire.Region_IN865: band.IN865, wire.Region_KR920: band.KR920,
	}
	for _, id := range Regions() {
		r, _ := RegionByID(id)
		for _, dwell := range []bool{false, true} {
			dt := lw.DwellTimeNoLimit
			if dwell {
				dt = lw.DwellTime400ms
			}
			b, err := band.GetConfig(names[id], false, dt)
			if err != nil {
				t.Fatal(err)
			}
			if float64(b.GetDefaultMaxUplinkEIRP()) != r.MaxEIRP {
				t.Errorf("%s: MaxEIRP %v, brocaar %v", r.Name, r.MaxEIRP, b.GetDefaultMaxUplinkEIRP())
			}
			def := b.GetDefaults()
			if uint64(def.RX2Frequency) != r.RX2Frequency || def.RX2DataRate != r.RX2DataRate ||
				def.ReceiveDelay1 != r.RX1Delay || def.JoinAcceptDelay1 != r.JoinAccept1Delay {
				t.Errorf("%s: defaults %+v", r.Name, def)
			}
			for _, d := range r.DataRates {
				bd, err := b.GetDataRate(d.Index)
				if err != nil || bd.Modulation != band.LoRaModulation || bd.SpreadFactor != d.SF || bd.Bandwidth != d.BandwidthKHz {
					t.Errorf("%s DR%d: brocaar %+v, %v", r.Name, d.Index, bd, err)
				}
				mp, err := b.GetMaxPayloadSizeForDataRateIndex("", "", d.Index)
				want := d.MaxPayloadNoDwell
				if dwell && id != wire.Region_US915 {
					want = d.MaxPayloadDwell
				}
				if err != nil || mp.N != want {
					t.Errorf("%s DR%d dwell %v: N %d, brocaar %d", r.Name, d.Index, dwell, want, mp.N)
				}
			}
			// The default channels (all 72 for US915/AU915).
			idx := b.GetStandardUplinkChannelIndices()
			if len(idx) != len(r.Channels) {
				t.Errorf("%s: %d channels, brocaar %d", r.Name, len(r.Channels), len(idx))
				continue
			}
			for i := range idx {
				c, _ := b.GetUplinkChannel(idx[i])
				if uint64(c.Frequency) != r.Channels[i].Frequency {
					t.Errorf("%s ch%d: %d, brocaar %d", r.Name, i, r.Channels[i].Frequency, c.Frequency)
				}
			}
		}
		// RX1 data rates: brocaar's AS923 table without dwell floors at DR0,
		// ours follows the default downlink dwell (floor DR2); compare with
		// brocaar's dwell variant there.
		dt := lw.DwellTimeNoLimit
		if r.DwellTime {
			dt = lw.DwellTime400ms
		}
		b, _ := band.GetConfig(names[id], false, dt)
		for _, d := range r.DataRates {
			if !d.Uplink {
				continue
			}
			for o := 0; o <= r.MaxRX1DROffset; o++ {
				got, err := r.RX1DataRate(d.Index, o)
				want, berr := b.GetRX1DataRateIndex(d.Index, o)
				if err != nil || berr != nil || got != want {
					t.Errorf("%s RX1DataRate(DR%d, %d) = %d, %v; brocaar %d, %v", r.Name, d.Index, o, got, err, want, berr)
				}
			}
		}
	}
}
