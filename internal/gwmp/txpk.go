package gwmp

import (
	"fmt"
	"time"
)

// Transmit bounds accepted in txpk.
const (
	// MaxPower is the highest "powe" accepted, in dBm (30 dBm is the
	// highest EIRP any LoRaWAN region allows).
	MaxPower = 30
	// MaxFreqDeviation is the highest FSK "fdev" accepted, in Hz.
	MaxFreqDeviation = 250000
)

// TXPK is one radio packet to transmit, the "txpk" object of PULL_RESP
// (PROTOCOL.TXT section 6). Exactly how it is timed follows the forwarder:
// Imme first, then Tmst, then Tmms; at least one must be set.
type TXPK struct {
	// Imme asks for immediate transmission, ignoring Tmst, Tmms and Time.
	Imme bool `json:"imme,omitempty"`
	// Tmst asks for transmission when the concentrator counter reaches it.
	Tmst *uint32 `json:"tmst,omitempty"`
	// Tmms asks for transmission at a GPS time in ms since 1980-01-06.
	Tmms *uint64 `json:"tmms,omitempty"`
	// Time asks for transmission at a UTC time (protocol v1 forwarders).
	Time *time.Time `json:"time,omitempty"`
	// Freq is the TX centre frequency in MHz; see FreqHz and SetFreqHz.
	Freq float64 `json:"freq"`
	// RFCh is the concentrator RF chain to transmit on.
	RFCh uint8 `json:"rfch"`
	// Powe is the TX output power in dBm, 0–MaxPower.
	Powe uint8 `json:"powe"`
	// Modu is the modulation.
	Modu Modulation `json:"modu"`
	// DatR is the data rate; it must belong to Modu.
	DatR DataRate `json:"datr"`
	// CodR is the LoRa coding rate, e.g. "4/5"; required for LoRa.
	CodR string `json:"codr,omitempty"`
	// FDev is the FSK frequency deviation in Hz; required for FSK.
	FDev uint32 `json:"fdev,omitempty"`
	// IPol inverts the LoRa chirp polarity (true for LoRaWAN downlinks).
	IPol bool `json:"ipol,omitempty"`
	// Prea is the preamble length in symbols; 0 means the default.
	Prea uint16 `json:"prea,omitempty"`
	// Size is the payload size in bytes; it must equal len(Data).
	Size uint16 `json:"size"`
	// Data is the radio payload.
	Data Payload `json:"data"`
	// NCRC disables the physical-layer CRC.
	NCRC bool `json:"ncrc,omitempty"`
}

// FreqHz returns Freq in Hz, rounded to the nearest Hz.
func (t *TXPK) FreqHz() uint64 { return freqHz(t.Freq) }

// SetFreqHz sets Freq from a frequency in Hz; FreqHz returns it exactly, also
// after a JSON round trip.
func (t *TXPK) SetFreqHz(hz uint64) { t.Freq = freqMHz(hz) }

// SetData sets Data and the matching Size.
func (t *TXPK) SetData(b []byte) {
	t.Data = b
	t.Size = uint16(len(b))
}

// Validate checks every field against PROTOCOL.TXT, what the forwarder
// requires to accept the packet, and the package's bounds. The error wraps
// ErrFieldRange.
func (t *TXPK) Validate() error {
	if !t.Imme && t.Tmst == nil && t.Tmms == nil && t.Time == nil {
		return fmt.Errorf("%w: txpk has none of imme, tmst, tmms, time", ErrFieldRange)
	}
	if err := checkTmms("txpk", t.Tmms); err != nil {
		return err
	}
	if err := checkTime("txpk", t.Time); err != nil {
		return err
	}
	if err := checkFreq("txpk", t.Freq); err != nil {
		return err
	}
	if t.Powe > MaxPower {
		return fmt.Errorf("%w: txpk powe %d dBm above %d", ErrFieldRange, t.Powe, MaxPower)
	}
	if !t.Modu.valid() {
		return fmt.Errorf("%w: txpk modu %q", ErrFieldRange, t.Modu)
	}
	if t.DatR.Modulation() != t.Modu {
		return fmt.Errorf("%w: txpk datr %q does not match modu %s", ErrFieldRange, t.DatR, t.Modu)
	}
	switch t.Modu {
	case ModulationLoRa:
		if !validCodingRate(t.CodR) || t.CodR == "OFF" {
			return fmt.Errorf("%w: txpk codr %q", ErrFieldRange, t.CodR)
		}
	case ModulationFSK:
		if t.CodR != "" && !validCodingRate(t.CodR) {
			return fmt.Errorf("%w: txpk codr %q", ErrFieldRange, t.CodR)
		}
		if t.FDev == 0 || t.FDev > MaxFreqDeviation {
			return fmt.Errorf("%w: txpk fdev %d Hz", ErrFieldRange, t.FDev)
		}
	}
	if len(t.Data) == 0 {
		return fmt.Errorf("%w: txpk without data", ErrFieldRange)
	}
	return checkPayload("txpk", t.Size, t.Data)
}
