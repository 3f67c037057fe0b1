package gwmp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Modulation is the "modu" field of rxpk and txpk.
type Modulation string

// Modulations named by PROTOCOL.TXT.
const (
	// ModulationLoRa is LoRa chirp spread spectrum ("LORA").
	ModulationLoRa Modulation = "LORA"
	// ModulationFSK is (G)FSK ("FSK").
	ModulationFSK Modulation = "FSK"
)

// valid reports whether m is one of the known modulations.
func (m Modulation) valid() bool { return m == ModulationLoRa || m == ModulationFSK }

// LoRa spreading factors and bandwidths accepted by ParseDataRate and
// LoRaDataRate: SX1301 receives SF7–SF12, SX1302/SX1303 also SF5 and SF6;
// concentrators demodulate 125, 250 and 500 kHz channels.
const (
	// MinSpreadingFactor is the lowest LoRa spreading factor accepted.
	MinSpreadingFactor = 5
	// MaxSpreadingFactor is the highest LoRa spreading factor accepted.
	MaxSpreadingFactor = 12
)

// FSK bit rates accepted by FSKDataRate: the SX130x FSK modem range.
const (
	// MinFSKBitRate is the lowest FSK bit rate accepted, in bit/s.
	MinFSKBitRate = 500
	// MaxFSKBitRate is the highest FSK bit rate accepted, in bit/s.
	MaxFSKBitRate = 250000
)

// validBandwidth reports whether bw (kHz) is a concentrator LoRa bandwidth.
func validBandwidth(bw int) bool { return bw == 125 || bw == 250 || bw == 500 }

// DataRate is the "datr" field: a LoRa spreading factor and bandwidth, sent
// as a string such as "SF7BW125", or an FSK bit rate, sent as a number. The
// zero DataRate is "no data rate" and is invalid in a packet.
type DataRate struct {
	sf  uint8  // LoRa spreading factor, 0 for FSK
	bw  uint16 // LoRa bandwidth in kHz
	bps uint32 // FSK bit rate in bit/s, 0 for LoRa
}

// LoRaDataRate returns the LoRa data rate of spreading factor sf and
// bandwidth bwKHz, or an ErrFieldRange error when either is not supported.
func LoRaDataRate(sf, bwKHz int) (DataRate, error) {
	if sf < MinSpreadingFactor || sf > MaxSpreadingFactor {
		return DataRate{}, fmt.Errorf("%w: spreading factor %d", ErrFieldRange, sf)
	}
	if !validBandwidth(bwKHz) {
		return DataRate{}, fmt.Errorf("%w: LoRa bandwidth %d kHz", ErrFieldRange, bwKHz)
	}
	return DataRate{sf: uint8(sf), bw: uint16(bwKHz)}, nil
}

// FSKDataRate returns the FSK data rate of bps bits per second, or an
// ErrFieldRange error outside [MinFSKBitRate, MaxFSKBitRate].
func FSKDataRate(bps int) (DataRate, error) {
	if bps < MinFSKBitRate || bps > MaxFSKBitRate {
		return DataRate{}, fmt.Errorf("%w: FSK bit rate %d", ErrFieldRange, bps)
	}
	return DataRate{bps: uint32(bps)}, nil
}

// ParseDataRate parses a LoRa data rate identifier in the canonical form the
// forwarder writes, "SF<sf>BW<kHz>" (e.g. "SF12BW500"), or an FSK bit rate in
// decimal digits (e.g. "50000"). Anything else, such as "SF13BW125",
// "SF7BW999", "sf7bw125" or "SF07BW125", is an ErrFieldRange error.
func ParseDataRate(s string) (DataRate, error) {
	if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		n, err := parseCanonicalUint(s)
		if err != nil {
			return DataRate{}, fmt.Errorf("%w: FSK data rate %q", ErrFieldRange, s)
		}
		return FSKDataRate(n)
	}
	if len(s) < len("SF7BW125") || len(s) > len("SF12BW500") || s[:2] != "SF" {
		return DataRate{}, fmt.Errorf("%w: data rate %q", ErrFieldRange, s)
	}
	i := 2
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i+2 >= len(s) || s[i:i+2] != "BW" {
		return DataRate{}, fmt.Errorf("%w: data rate %q", ErrFieldRange, s)
	}
	sf, err := parseCanonicalUint(s[2:i])
	if err != nil {
		return DataRate{}, fmt.Errorf("%w: data rate %q", ErrFieldRange, s)
	}
	bw, err := parseCanonicalUint(s[i+2:])
	if err != nil {
		return DataRate{}, fmt.Errorf("%w: data rate %q", ErrFieldRange, s)
	}
	return LoRaDataRate(sf, bw)
}

// parseCanonicalUint parses a small decimal number written without sign,
// leading zeros or other characters.
func parseCanonicalUint(s string) (int, error) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// IsZero reports whether d is the zero DataRate (no data rate).
func (d DataRate) IsZero() bool { return d == DataRate{} }

// IsLoRa reports whether d is a LoRa data rate.
func (d DataRate) IsLoRa() bool { return d.sf != 0 }

// IsFSK reports whether d is an FSK data rate.
func (d DataRate) IsFSK() bool { return d.bps != 0 }

// SF returns the LoRa spreading factor, or 0 for FSK and the zero DataRate.
func (d DataRate) SF() int { return int(d.sf) }

// BandwidthKHz returns the LoRa bandwidth in kHz, or 0 for FSK and the zero
// DataRate.
func (d DataRate) BandwidthKHz() int { return int(d.bw) }

// BitRate returns the FSK bit rate in bit/s, or 0 for LoRa and the zero
// DataRate.
func (d DataRate) BitRate() int { return int(d.bps) }

// Modulation returns the modulation the data rate belongs to, or "" for the
// zero DataRate.
func (d DataRate) Modulation() Modulation {
	switch {
	case d.IsLoRa():
		return ModulationLoRa
	case d.IsFSK():
		return ModulationFSK
	default:
		return ""
	}
}

// String returns "SF7BW125" for LoRa, the bit rate in decimal for FSK, and ""
// for the zero DataRate.
func (d DataRate) String() string {
	switch {
	case d.IsLoRa():
		return "SF" + strconv.Itoa(int(d.sf)) + "BW" + strconv.Itoa(int(d.bw))
	case d.IsFSK():
		return strconv.Itoa(int(d.bps))
	default:
		return ""
	}
}

// MarshalJSON writes a LoRa data rate as a JSON string and an FSK data rate
// as a JSON number. The zero DataRate is an ErrFieldRange error.
func (d DataRate) MarshalJSON() ([]byte, error) {
	switch {
	case d.IsLoRa():
		return strconv.AppendQuote(nil, d.String()), nil
	case d.IsFSK():
		return strconv.AppendUint(nil, uint64(d.bps), 10), nil
	default:
		return nil, fmt.Errorf("%w: empty data rate", ErrFieldRange)
	}
}

// UnmarshalJSON reads a LoRa data rate from a JSON string or an FSK bit rate
// from a JSON number; null leaves d unchanged.
func (d *DataRate) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
			return fmt.Errorf("%w: FSK data rate %q sent as a string", ErrFieldRange, s)
		}
		v, err := ParseDataRate(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	bps, err := strconv.ParseUint(n.String(), 10, 32)
	if err != nil {
		return fmt.Errorf("%w: FSK data rate %s", ErrFieldRange, n)
	}
	v, err := FSKDataRate(int(bps))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// validCodingRate reports whether s is an accepted LoRa coding rate ("codr"):
// the ECC rates the forwarder writes, the aliases "2/3" and "1/2" that it also
// reads, and "OFF" that SX1302 forwarders write when the rate is unknown.
func validCodingRate(s string) bool {
	switch s {
	case "4/5", "4/6", "4/7", "4/8", "2/3", "1/2", "OFF":
		return true
	}
	return false
}
