// Package pktfwd writes the Semtech packet forwarder's global_conf.json for a
// hexnet region: the concentrator's two radio centre frequencies, its eight
// multi-SF LoRa channels (plus the single-SF and FSK channels where the region
// has them), the transmit range, and a gateway_conf that sends to the hotspot
// agent on localhost:1680.
//
// The layout follows Semtech's reference global_conf files for the SX1301
// (lora_gateway/packet_forwarder): each radio covers channels within ±400 kHz
// of its centre, IF offsets are relative to the radio's centre. Frequencies
// are the LoRaWAN Regional Parameters (RP002-1.0) channel plans; for US915 and
// AU915 the eight 125 kHz channels and the one 500 kHz channel of the chosen
// sub-band (1..8). The TX gain table is Semtech's reference table and is
// board-specific; makers replace it for their hardware.
package pktfwd

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownRegion is returned for a region without a forwarder plan.
var ErrUnknownRegion = errors.New("pktfwd: unknown region")

// ErrBadSubBand is returned for a sub-band the region does not have.
var ErrBadSubBand = errors.New("pktfwd: bad sub-band")

// ServerPort is the UDP port the agent's GWMP server listens on (up and down).
const ServerPort = 1680

// Regions lists the region names Plan accepts (wire.Region names).
var Regions = []string{"EU868", "US915", "AU915", "AS923_1", "AS923_2", "AS923_3", "AS923_4", "IN865", "KR920"}

// Channel is one receive channel: an absolute frequency and its IF chain.
type Channel struct {
	Freq      uint32 // Hz
	Radio     int    // 0 or 1
	IF        int32  // Hz offset from the radio's centre
	Bandwidth uint32 // Hz, for the single-SF LoRa and FSK channels
	SF        int    // spreading factor, for the single-SF LoRa channel
	Datarate  uint32 // bit/s, for the FSK channel
}

// Plan is a region's concentrator layout.
type Plan struct {
	Region  string
	SubBand int       // 0 when the region has no sub-bands
	Radio   [2]uint32 // centre frequencies, Hz
	MultiSF []Channel // 125 kHz multi-SF channels (at most 8)
	LoRaStd *Channel  // single-SF LoRa channel, or nil
	FSK     *Channel  // FSK channel, or nil
	TxMin   uint32    // Hz
	TxMax   uint32    // Hz
}

// HasSubBands reports whether a region is split into sub-bands.
func HasSubBands(region string) bool { return region == "US915" || region == "AU915" }

// DefaultSubBand is the sub-band used when none is given (2, as most public
// US915/AU915 networks), or 0 for regions without sub-bands.
func DefaultSubBand(region string) int {
	if HasSubBands(region) {
		return 2
	}
	return 0
}

// eightFrom lays out eight 125 kHz channels 200 kHz apart from lo: the first
// four on radio 0 (centre lo+400 kHz), the other four on radio 1 (centre
// lo+1.1 MHz), as Semtech's US902 reference does.
func eightFrom(lo uint32) ([2]uint32, []Channel) {
	r := [2]uint32{lo + 400_000, lo + 1_100_000}
	chans := make([]Channel, 8)
	for i := range chans {
		f := lo + uint32(i)*200_000
		radio := 0
		if i >= 4 {
			radio = 1
		}
		chans[i] = Channel{Freq: f, Radio: radio, IF: int32(f) - int32(r[radio])}
	}
	return r, chans
}

// NewPlan returns the layout of region (with subBand for US915/AU915; 0
// picks DefaultSubBand).
func NewPlan(region string, subBand int) (Plan, error) {
	region = strings.ToUpper(region)
	if HasSubBands(region) {
		if subBand == 0 {
			subBand = DefaultSubBand(region)
		}
		if subBand < 1 || subBand > 8 {
			return Plan{}, fmt.Errorf("%w: %s has sub-bands 1..8, not %d", ErrBadSubBand, region, subBand)
		}
	} else if subBand != 0 {
		return Plan{}, fmt.Errorf("%w: %s has no sub-bands", ErrBadSubBand, region)
	}
	p := Plan{Region: region, SubBand: subBand}
	step := uint32(subBand-1) * 1_600_000
	switch region {
	case "EU868":
		// Semtech EU868 reference: radio 0 at 867.5 MHz, radio 1 at 868.5 MHz;
		// 868.1/868.3/868.5 (the default channels) then 867.1..867.9.
		p.Radio = [2]uint32{867_500_000, 868_500_000}
		for _, c := range []struct {
			f     uint32
			radio int
		}{{868_100_000, 1}, {868_300_000, 1}, {868_500_000, 1}, {867_100_000, 0}, {867_300_000, 0}, {867_500_000, 0}, {867_700_000, 0}, {867_900_000, 0}} {
			p.MultiSF = append(p.MultiSF, Channel{Freq: c.f, Radio: c.radio, IF: int32(c.f) - int32(p.Radio[c.radio])})
		}
		p.LoRaStd = &Channel{Freq: 868_300_000, Radio: 1, IF: -200_000, Bandwidth: 250_000, SF: 7}
		p.FSK = &Channel{Freq: 868_800_000, Radio: 1, IF: 300_000, Bandwidth: 125_000, Datarate: 50_000}
		p.TxMin, p.TxMax = 863_000_000, 870_000_000
	case "US915":
		// Upstream channels 8(n-1)..8(n-1)+7 at 902.3 + 0.2k MHz, 500 kHz channel 64+n-1 at 903.0 + 1.6k MHz.
		p.Radio, p.MultiSF = eightFrom(902_300_000 + step)
		f := 903_000_000 + step
		p.LoRaStd = &Channel{Freq: f, Radio: 0, IF: int32(f) - int32(p.Radio[0]), Bandwidth: 500_000, SF: 8}
		p.TxMin, p.TxMax = 923_000_000, 928_000_000
	case "AU915":
		// Upstream at 915.2 + 0.2k MHz, 500 kHz channels at 915.9 + 1.6k MHz.
		p.Radio, p.MultiSF = eightFrom(915_200_000 + step)
		f := 915_900_000 + step
		p.LoRaStd = &Channel{Freq: f, Radio: 0, IF: int32(f) - int32(p.Radio[0]), Bandwidth: 500_000, SF: 8}
		p.TxMin, p.TxMax = 915_000_000, 928_000_000
	case "AS923_1", "AS923_2", "AS923_3", "AS923_4":
		// AS923-1 default channels 923.2 and 923.4 MHz; the other groups are
		// shifted by AS923_FREQ_OFFSET (-1.8, -6.6, -5.9 MHz). Eight channels
		// ending at the second default channel.
		offset := map[string]int32{"AS923_1": 0, "AS923_2": -1_800_000, "AS923_3": -6_600_000, "AS923_4": -5_900_000}[region]
		p.Radio, p.MultiSF = eightFrom(uint32(922_000_000 + offset))
		p.TxMin, p.TxMax = 915_000_000, 928_000_000
	case "IN865":
		// The three default channels 865.0625, 865.4025, 865.985 MHz.
		p.Radio = [2]uint32{865_200_000, 866_000_000}
		for _, c := range []struct {
			f     uint32
			radio int
		}{{865_062_500, 0}, {865_402_500, 0}, {865_985_000, 1}} {
			p.MultiSF = append(p.MultiSF, Channel{Freq: c.f, Radio: c.radio, IF: int32(c.f) - int32(p.Radio[c.radio])})
		}
		p.TxMin, p.TxMax = 865_000_000, 867_000_000
	case "KR920":
		// Default channels 922.1, 922.3, 922.5 MHz, then 200 kHz steps to 923.5.
		p.Radio, p.MultiSF = eightFrom(922_100_000)
		p.TxMin, p.TxMax = 920_900_000, 923_300_000
	default:
		return Plan{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownRegion, region, strings.Join(Regions, ", "))
	}
	return p, nil
}

// Validate checks that every channel fits its radio (|IF| ≤ 400 kHz for 125
// kHz channels, as in Semtech's reference layouts) and sits at its frequency.
func (p Plan) Validate() error {
	if len(p.MultiSF) == 0 || len(p.MultiSF) > 8 {
		return fmt.Errorf("pktfwd: %d multi-SF channels", len(p.MultiSF))
	}
	all := append([]Channel(nil), p.MultiSF...)
	for _, c := range []*Channel{p.LoRaStd, p.FSK} {
		if c != nil {
			all = append(all, *c)
		}
	}
	for _, c := range all {
		if c.Radio != 0 && c.Radio != 1 {
			return fmt.Errorf("pktfwd: channel %d Hz on radio %d", c.Freq, c.Radio)
		}
		if int64(p.Radio[c.Radio])+int64(c.IF) != int64(c.Freq) {
			return fmt.Errorf("pktfwd: channel %d Hz: radio %d Hz + IF %d Hz", c.Freq, p.Radio[c.Radio], c.IF)
		}
		if c.IF > 400_000 || c.IF < -400_000 {
			return fmt.Errorf("pktfwd: channel %d Hz: IF %d Hz beyond ±400 kHz", c.Freq, c.IF)
		}
	}
	if p.TxMin >= p.TxMax {
		return fmt.Errorf("pktfwd: tx range %d..%d", p.TxMin, p.TxMax)
	}
	return nil
}

type radioConf struct {
	Enable     bool    `json:"enable"`
	Type       string  `json:"type"`
	Freq       uint32  `json:"freq"`
	RSSIOffset float64 `json:"rssi_offset"`
	TxEnable   bool    `json:"tx_enable"`
	TxFreqMin  uint32  `json:"tx_freq_min,omitempty"`
	TxFreqMax  uint32  `json:"tx_freq_max,omitempty"`
}

type chanConf struct {
	Enable       bool   `json:"enable"`
	Radio        int    `json:"radio"`
	IF           int32  `json:"if"`
	Bandwidth    uint32 `json:"bandwidth,omitempty"`
	SpreadFactor int    `json:"spread_factor,omitempty"`
	Datarate     uint32 `json:"datarate,omitempty"`
}

type txLUT struct {
	PAGain  int `json:"pa_gain"`
	MixGain int `json:"mix_gain"`
	RFPower int `json:"rf_power"`
	DigGain int `json:"dig_gain"`
}

// referenceLUT is the TX gain table of Semtech's reference global_conf.json.
var referenceLUT = [16][3]int{
	{0, 8, -6}, {0, 10, -3}, {0, 12, 0}, {1, 8, 3}, {1, 10, 6}, {1, 12, 10}, {1, 13, 11}, {2, 9, 12},
	{1, 15, 13}, {2, 10, 14}, {2, 11, 16}, {3, 9, 20}, {3, 10, 23}, {3, 11, 25}, {3, 12, 26}, {3, 14, 27},
}

// GatewayConf is the gateway_conf section.
type GatewayConf struct {
	GatewayID          string `json:"gateway_ID"`
	ServerAddress      string `json:"server_address"`
	ServPortUp         int    `json:"serv_port_up"`
	ServPortDown       int    `json:"serv_port_down"`
	KeepaliveInterval  int    `json:"keepalive_interval"`
	StatInterval       int    `json:"stat_interval"`
	PushTimeoutMS      int    `json:"push_timeout_ms"`
	ForwardCRCValid    bool   `json:"forward_crc_valid"`
	ForwardCRCError    bool   `json:"forward_crc_error"`
	ForwardCRCDisabled bool   `json:"forward_crc_disabled"`
}

// DefaultGateway returns the gateway_conf that sends to the agent on localhost.
func DefaultGateway() GatewayConf {
	return GatewayConf{
		GatewayID: "AA555A0000000000", ServerAddress: "localhost",
		ServPortUp: ServerPort, ServPortDown: ServerPort,
		KeepaliveInterval: 10, StatInterval: 30, PushTimeoutMS: 100, ForwardCRCValid: true,
	}
}

// GlobalConf returns global_conf.json for the plan.
func (p Plan) GlobalConf(gw GatewayConf) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	sx := map[string]any{
		"lorawan_public": true,
		"clksrc":         1,
		"antenna_gain":   0,
		"radio_0": radioConf{Enable: true, Type: "SX1257", Freq: p.Radio[0], RSSIOffset: -166.0,
			TxEnable: true, TxFreqMin: p.TxMin, TxFreqMax: p.TxMax},
		"radio_1": radioConf{Enable: true, Type: "SX1257", Freq: p.Radio[1], RSSIOffset: -166.0},
	}
	for i := 0; i < 8; i++ {
		c := chanConf{}
		if i < len(p.MultiSF) {
			c = chanConf{Enable: true, Radio: p.MultiSF[i].Radio, IF: p.MultiSF[i].IF}
		}
		sx[fmt.Sprintf("chan_multiSF_%d", i)] = c
	}
	sx["chan_Lora_std"] = chanConf{}
	if c := p.LoRaStd; c != nil {
		sx["chan_Lora_std"] = chanConf{Enable: true, Radio: c.Radio, IF: c.IF, Bandwidth: c.Bandwidth, SpreadFactor: c.SF}
	}
	sx["chan_FSK"] = chanConf{}
	if c := p.FSK; c != nil {
		sx["chan_FSK"] = chanConf{Enable: true, Radio: c.Radio, IF: c.IF, Bandwidth: c.Bandwidth, Datarate: c.Datarate}
	}
	for i, l := range referenceLUT {
		sx[fmt.Sprintf("tx_lut_%d", i)] = txLUT{PAGain: l[0], MixGain: l[1], RFPower: l[2], DigGain: 0}
	}
	out, err := json.MarshalIndent(map[string]any{"SX1301_conf": sx, "gateway_conf": gw}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
