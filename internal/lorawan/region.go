package lorawan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hexnet/hexnet/internal/wire"
)

// ErrUnknownRegion: the region is not one hexnet serves.
var ErrUnknownRegion = errors.New("lorawan: unknown region")

// Channel is a radio channel.
type Channel struct {
	Frequency    uint64 // Hz
	BandwidthKHz uint32
}

// DataRate is one LoRa data rate of a region. Only LoRa data rates are
// listed; FSK and LR-FHSS ones are left out, as hexnet does not use them.
type DataRate struct {
	Index        int // DR index of the region
	SF           int // spreading factor
	BandwidthKHz int
	// MaxPayload is RP002's N, the largest FRMPayload (MACPayload without
	// FHDR and FPort, no FOpts) in bytes, under the region's default dwell
	// setting; 0 means the data rate cannot be used.
	MaxPayload int
	// MaxPayloadNoDwell and MaxPayloadDwell are N without and with the
	// 400 ms uplink dwell-time limit (equal in regions without one).
	MaxPayloadNoDwell int
	MaxPayloadDwell   int
	Uplink            bool   // usable for uplinks
	Downlink          bool   // usable for downlinks
	Name              string // Semtech form, e.g. "SF7BW125"
}

// Region holds the LoRaWAN regional parameters (RP002-1.0.x) hexnet uses.
type Region struct {
	ID   wire.Region
	Name string // e.g. "EU868", "AS923-1"
	// Channels are the uplink channels every device and gateway knows: the
	// default channels, or for US915/AU915 the 64 125 kHz channels followed
	// by the 8 500 kHz ones (index = channel number).
	Channels  []Channel
	DataRates []DataRate // LoRa data rates, ascending index
	MaxEIRP   float64    // default max EIRP, dBm
	// DwellTime: the 400 ms uplink dwell-time limit applies by default
	// (US915 always; AU915 and AS923 at boot, per RP002).
	DwellTime        bool
	RX2Frequency     uint64 // Hz
	RX2DataRate      int
	RX1Delay         time.Duration // RECEIVE_DELAY1
	JoinAccept1Delay time.Duration // JOIN_ACCEPT_DELAY1
	MaxRX1DROffset   int
	rx1              func(up, offset int) int
	rx1Freq          func(r *Region, up uint64) (uint64, error)
}

// regionName returns the canonical name of a region, or "" if unknown.
func regionName(id wire.Region) string {
	switch id {
	case wire.Region_EU868:
		return "EU868"
	case wire.Region_US915:
		return "US915"
	case wire.Region_AU915:
		return "AU915"
	case wire.Region_AS923_1:
		return "AS923-1"
	case wire.Region_AS923_2:
		return "AS923-2"
	case wire.Region_AS923_3:
		return "AS923-3"
	case wire.Region_AS923_4:
		return "AS923-4"
	case wire.Region_IN865:
		return "IN865"
	case wire.Region_KR920:
		return "KR920"
	}
	return ""
}

// ParseRegion parses a region name, case-insensitively, with '-' or '_'
// before an AS923 variant ("EU868", "us915", "AS923-1", "AS923_1"); a bare
// "AS923" means AS923-1.
func ParseRegion(name string) (wire.Region, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	n = strings.ReplaceAll(n, "_", "-")
	if n == "AS923" {
		n = "AS923-1"
	}
	for _, id := range Regions() {
		if regionName(id) == n {
			return id, nil
		}
	}
	return wire.Region_REGION_UNKNOWN, fmt.Errorf("%w: %q", ErrUnknownRegion, name)
}

// Regions lists the IDs of every region RegionByID knows, in wire order.
func Regions() []wire.Region {
	return []wire.Region{
		wire.Region_EU868, wire.Region_US915, wire.Region_AU915,
		wire.Region_AS923_1, wire.Region_AS923_2, wire.Region_AS923_3, wire.Region_AS923_4,
		wire.Region_IN865, wire.Region_KR920,
	}
}

// dr builds a DataRate; dwell < 0 means "same as noDwell".
func dr(index, sf, bw, noDwell, dwell int, up, down bool) DataRate {
	if dwell < 0 {
		dwell = noDwell
	}
	return DataRate{
		Index: index, SF: sf, BandwidthKHz: bw,
		MaxPayloadNoDwell: noDwell, MaxPayloadDwell: dwell,
		Uplink: up, Downlink: down,
		Name: fmt.Sprintf("SF%dBW%d", sf, bw),
	}
}

func mhz(f float64) uint64 { return uint64(f*1e6 + 0.5) }

// effOffset maps RX1DROffset 6 and 7 to −1 and −2 (AS923, IN865).
func effOffset(o int) int {
	switch o {
	case 6:
		return -1
	case 7:
		return -2
	}
	return o
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

func sameFreq(_ *Region, up uint64) (uint64, error) { return up, nil }

// rx1Freq915 maps an uplink channel to downlink channel (n mod 8) at
// 923.3 MHz + 600 kHz steps (US915 and AU915).
func rx1Freq915(r *Region, up uint64) (uint64, error) {
	for i, c := range r.Channels {
		if c.Frequency == up {
			return mhz(923.3) + uint64(i%8)*600000, nil
		}
	}
	return 0, fmt.Errorf("%w: %d Hz is not an uplink channel of %s", ErrBadParam, up, r.Name)
}

// RegionByID returns the parameters of a region; each call returns a fresh
// copy the caller may modify. Figures are RP002-1.0.x's: default channels,
// data rates with N (max FRMPayload), default max EIRP, RX2 defaults,
// RX1 data-rate offset rules, RECEIVE_DELAY1 1 s, JOIN_ACCEPT_DELAY1 5 s.
func RegionByID(id wire.Region) (*Region, error) {
	name := regionName(id)
	if name == "" {
		return nil, fmt.Errorf("%w: %v", ErrUnknownRegion, id)
	}
	r := &Region{
		ID: id, Name: name,
		RX1Delay: time.Second, JoinAccept1Delay: 5 * time.Second,
		rx1Freq: sameFreq,
	}
	switch id {
	case wire.Region_EU868:
		r.Channels = chans125(868.1, 868.3, 868.5)
		r.DataRates = []DataRate{
			dr(0, 12, 125, 51, -1, true, true), dr(1, 11, 125, 51, -1, true, true),
			dr(2, 10, 125, 51, -1, true, true), dr(3, 9, 125, 115, -1, true, true),
			dr(4, 8, 125, 242, -1, true, true), dr(5, 7, 125, 242, -1, true, true),
			dr(6, 7, 250, 242, -1, true, true),
		}
		r.MaxEIRP = 16
		r.RX2Frequency, r.RX2DataRate = mhz(869.525), 0
		r.MaxRX1DROffset = 5
		r.rx1 = func(up, o int) int { return max(up-o, 0) }
	case wire.Region_US915, wire.Region_AU915:
		base, base500 := 902.3, 903.0
		if id == wire.Region_AU915 {
			base, base500 = 915.2, 915.9
		}
		for i := range 64 {
			r.Channels = append(r.Channels, Channel{Frequency: mhz(base) + uint64(i)*200000, BandwidthKHz: 125})
		}
		for i := range 8 {
			r.Channels = append(r.Channels, Channel{Frequency: mhz(base500) + uint64(i)*1600000, BandwidthKHz: 500})
		}
		down := []DataRate{
			dr(8, 12, 500, 53, -1, false, true), dr(9, 11, 500, 129, -1, false, true),
			dr(10, 10, 500, 242, -1, false, true), dr(11, 9, 500, 242, -1, false, true),
			dr(12, 8, 500, 242, -1, false, true), dr(13, 7, 500, 242, -1, false, true),
		}
		if id == wire.Region_US915 {
			// US915's table already is the 400 ms dwell-limited one.
			r.DataRates = append([]DataRate{
				dr(0, 10, 125, 11, -1, true, false), dr(1, 9, 125, 53, -1, true, false),
				dr(2, 8, 125, 125, -1, true, false), dr(3, 7, 125, 242, -1, true, false),
				dr(4, 8, 500, 242, -1, true, false),
			}, down...)
			r.MaxRX1DROffset = 3
			r.rx1 = func(up, o int) int { return clamp(up+10-o, 8, 13) }
		} else {
			r.DataRates = append([]DataRate{
				dr(0, 12, 125, 51, 0, true, false), dr(1, 11, 125, 51, 0, true, false),
				dr(2, 10, 125, 51, 11, true, false), dr(3, 9, 125, 115, 53, true, false),
				dr(4, 8, 125, 242, 125, true, false), dr(5, 7, 125, 242, 242, true, false),
				dr(6, 8, 500, 242, 242, true, false),
			}, down...)
			r.MaxRX1DROffset = 5
			r.rx1 = func(up, o int) int { return clamp(up+8-o, 8, 13) }
		}
		r.MaxEIRP = 30
		r.DwellTime = true
		r.RX2Frequency, r.RX2DataRate = mhz(923.3), 8
		r.rx1Freq = rx1Freq915
	case wire.Region_AS923_1, wire.Region_AS923_2, wire.Region_AS923_3, wire.Region_AS923_4:
		// AS923_FREQ_OFFSET per variant.
		var off float64 // AS923-1: none
		switch id {
		case wire.Region_AS923_2:
			off = -1.8
		case wire.Region_AS923_3:
			off = -6.6
		case wire.Region_AS923_4:
			off = -5.9
		}
		r.Channels = chans125(923.2+off, 923.4+off)
		r.DataRates = []DataRate{
			dr(0, 12, 125, 51, 0, true, true), dr(1, 11, 125, 51, 0, true, true),
			dr(2, 10, 125, 115, 11, true, true), dr(3, 9, 125, 115, 53, true, true),
			dr(4, 8, 125, 242, 125, true, true), dr(5, 7, 125, 242, 242, true, true),
			dr(6, 7, 250, 242, 242, true, true),
		}
		r.MaxEIRP = 16
		r.DwellTime = true
		r.RX2Frequency, r.RX2DataRate = mhz(923.2+off), 2
		r.MaxRX1DROffset = 7
		// With the downlink dwell limit in force the floor is DR2.
		r.rx1 = func(up, o int) int { return clamp(up-effOffset(o), 2, 5) }
	case wire.Region_IN865:
		r.Channels = chans125(865.0625, 865.4025, 865.985)
		r.DataRates = []DataRate{
			dr(0, 12, 125, 51, -1, true, true), dr(1, 11, 125, 51, -1, true, true),
			dr(2, 10, 125, 51, -1, true, true), dr(3, 9, 125, 115, -1, true, true),
			dr(4, 8, 125, 242, -1, true, true), dr(5, 7, 125, 242, -1, true, true),
		}
		r.MaxEIRP = 30
		r.RX2Frequency, r.RX2DataRate = mhz(866.55), 2
		r.MaxRX1DROffset = 7
		r.rx1 = func(up, o int) int { return clamp(up-effOffset(o), 0, 5) }
	case wire.Region_KR920:
		r.Channels = chans125(922.1, 922.3, 922.5)
		r.DataRates = []DataRate{
			dr(0, 12, 125, 51, -1, true, true), dr(1, 11, 125, 51, -1, true, true),
			dr(2, 10, 125, 51, -1, true, true), dr(3, 9, 125, 115, -1, true, true),
			dr(4, 8, 125, 242, -1, true, true), dr(5, 7, 125, 242, -1, true, true),
		}
		r.MaxEIRP = 14
		r.RX2Frequency, r.RX2DataRate = mhz(921.9), 0
		r.MaxRX1DROffset = 5
		r.rx1 = func(up, o int) int { return max(up-o, 0) }
	}
	for i := range r.DataRates {
		d := &r.DataRates[i]
		d.MaxPayload = d.MaxPayloadNoDwell
		if r.DwellTime {
			d.MaxPayload = d.MaxPayloadDwell
		}
	}
	return r, nil
}

func chans125(mhzs ...float64) []Channel {
	out := make([]Channel, len(mhzs))
	for i, f := range mhzs {
		out[i] = Channel{Frequency: mhz(f), BandwidthKHz: 125}
	}
	return out
}

// DataRate returns the data rate with the given index.
func (r *Region) DataRate(index int) (DataRate, error) {
	for _, d := range r.DataRates {
		if d.Index == index {
			return d, nil
		}
	}
	return DataRate{}, fmt.Errorf("%w: %s has no LoRa DR%d", ErrBadParam, r.Name, index)
}

// DataRateByName returns the data rate named like "SF7BW125" (case-
// insensitive) in the given direction: US915 and AU915 use SF8BW500 both as
// an uplink (DR4/DR6) and a downlink (DR12) rate.
func (r *Region) DataRateByName(name string, uplink bool) (DataRate, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	for _, d := range r.DataRates {
		if d.Name == n && (uplink && d.Uplink || !uplink && d.Downlink) {
			return d, nil
		}
	}
	return DataRate{}, fmt.Errorf("%w: %s has no data rate %q", ErrBadParam, r.Name, name)
}

// RX1DataRate returns the RX1 downlink DR index for an uplink DR index and
// the RX1DROffset (RP002's table per region: EU868/KR920 DR−offset floored
// at 0; IN865 and AS923 with offsets 6 and 7 meaning +1 and +2, capped at
// DR5, AS923 floored at DR2 under its downlink dwell limit; US915 and AU915
// map uplink DRs onto the 500 kHz downlink DR8..DR13).
func (r *Region) RX1DataRate(upDR, offset int) (int, error) {
	d, err := r.DataRate(upDR)
	if err != nil || !d.Uplink {
		return 0, fmt.Errorf("%w: %s has no uplink DR%d", ErrBadParam, r.Name, upDR)
	}
	if offset < 0 || offset > r.MaxRX1DROffset {
		return 0, fmt.Errorf("%w: RX1DROffset %d, max %d in %s", ErrBadParam, offset, r.MaxRX1DROffset, r.Name)
	}
	return r.rx1(upDR, offset), nil
}

// RX1Frequency returns the RX1 downlink frequency for an uplink frequency:
// the same frequency, except in US915/AU915 where uplink channel n answers
// on 923.3 MHz + (n mod 8) × 600 kHz.
func (r *Region) RX1Frequency(uplink uint64) (uint64, error) { return r.rx1Freq(r, uplink) }

// SubBand returns the channels of a US915/AU915 sub-band n (1..8): the
// 125 kHz channels 8(n−1)..8(n−1)+7 and the 500 kHz channel 64+(n−1); e.g.
// sub-band 2 is channels 8–15 and 65.
func (r *Region) SubBand(n int) ([]Channel, error) {
	if len(r.Channels) != 72 {
		return nil, fmt.Errorf("%w: %s has no sub-bands", ErrBadParam, r.Name)
	}
	if n < 1 || n > 8 {
		return nil, fmt.Errorf("%w: sub-band %d, want 1..8", ErrBadParam, n)
	}
	out := make([]Channel, 0, 9)
	out = append(out, r.Channels[8*(n-1):8*n]...)
	return append(out, r.Channels[64+n-1]), nil
}

// BeaconSubBand is the US915/AU915 sub-band whose 125 kHz channels beacons
// use (the one most gateways listen to).
const BeaconSubBand = 2

// BeaconChannels returns the uplink 125 kHz channels beacons are sent on and
// witnesses listen to: the region's default channels, or for US915/AU915 the
// eight 125 kHz channels of sub-band 2 (channels 8–15).
func (r *Region) BeaconChannels() []Channel {
	src := r.Channels
	if sb, err := r.SubBand(BeaconSubBand); err == nil {
		src = sb
	}
	out := make([]Channel, 0, len(src))
	for _, c := range src {
		if c.BandwidthKHz == 125 {
			out = append(out, c)
		}
	}
	return out
}

// BeaconDataRate returns the first uplink 125 kHz data rate, from DR0 up
// (slowest spreading factor first), whose max payload N under the region's
// default dwell setting holds payloadLen bytes: EU868 gives SF12BW125,
// US915 SF9BW125 (DR1, as DR0 carries only 11 bytes within 400 ms).
func (r *Region) BeaconDataRate(payloadLen int) (DataRate, error) {
	for _, d := range r.DataRates {
		if d.Uplink && d.BandwidthKHz == 125 && d.MaxPayload >= payloadLen {
			return d, nil
		}
	}
	return DataRate{}, fmt.Errorf("%w: no %s data rate carries %d bytes", ErrBadParam, r.Name, payloadLen)
}
