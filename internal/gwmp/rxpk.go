package gwmp

import (
	"fmt"
	"time"
)

// Bounds of received signal metadata. They are sanity limits, far outside
// anything a concentrator reports, that reject corrupted or forged values.
const (
	// MinRSSI is the lowest RSSI accepted, in dBm.
	MinRSSI = -200
	// MaxRSSI is the highest RSSI accepted, in dBm (a device next to the
	// antenna in a lab reads a little above 0).
	MaxRSSI = 20
	// MaxAbsSNR bounds |lsnr| in dB.
	MaxAbsSNR = 50.0
	// MaxAbsFreqOffset bounds |foff| in Hz (half of the widest bandwidth,
	// with margin).
	MaxAbsFreqOffset = 500000
)

// CRC status values of the rxpk "stat" field.
const (
	// CRCOK means the payload CRC was present and valid.
	CRCOK int8 = 1
	// CRCBad means the payload CRC was present and invalid.
	CRCBad int8 = -1
	// CRCNone means the packet carried no CRC.
	CRCNone int8 = 0
)

// RXPK is one received radio packet with its metadata, an element of the
// "rxpk" array of PUSH_DATA (PROTOCOL.TXT section 4). RSSIS, RSSIC and FOff
// are written by SX1302 forwarders and are nil when absent.
type RXPK struct {
	// Time is the UTC time of reception, when the gateway knows it.
	Time *time.Time `json:"time,omitempty"`
	// Tmms is the GPS time of reception in ms since 1980-01-06, when the
	// gateway has GPS.
	Tmms *uint64 `json:"tmms,omitempty"`
	// Tmst is the concentrator's 1 MHz counter at the "RX finished" event.
	Tmst uint32 `json:"tmst"`
	// Freq is the RX centre frequency in MHz; see FreqHz and SetFreqHz.
	Freq float64 `json:"freq"`
	// Chan is the concentrator IF channel.
	Chan uint8 `json:"chan"`
	// RFCh is the concentrator RF chain.
	RFCh uint8 `json:"rfch"`
	// Stat is the CRC status: CRCOK, CRCBad or CRCNone.
	Stat int8 `json:"stat"`
	// Modu is the modulation.
	Modu Modulation `json:"modu"`
	// DatR is the data rate; it must belong to Modu.
	DatR DataRate `json:"datr"`
	// CodR is the LoRa coding rate, e.g. "4/5"; empty for FSK.
	CodR string `json:"codr,omitempty"`
	// RSSI is the received signal strength in dBm (of the channel on
	// SX1302 forwarders).
	RSSI int16 `json:"rssi"`
	// LSNR is the LoRa signal-to-noise ratio in dB (0 for FSK).
	LSNR float64 `json:"lsnr"`
	// RSSIS is the signal RSSI in dBm reported by SX1302 forwarders.
	RSSIS *int16 `json:"rssis,omitempty"`
	// RSSIC is the channel RSSI in dBm reported by SX1302 forwarders.
	RSSIC *int16 `json:"rssic,omitempty"`
	// FOff is the frequency offset in Hz reported by SX1302 forwarders.
	FOff *int32 `json:"foff,omitempty"`
	// Size is the payload size in bytes; it must equal len(Data).
	Size uint16 `json:"size"`
	// Data is the radio payload.
	Data Payload `json:"data"`
}

// FreqHz returns Freq in Hz, rounded to the nearest Hz.
func (r *RXPK) FreqHz() uint64 { return freqHz(r.Freq) }

// SetFreqHz sets Freq from a frequency in Hz; FreqHz returns it exactly, also
// after a JSON round trip.
func (r *RXPK) SetFreqHz(hz uint64) { r.Freq = freqMHz(hz) }

// SetData sets Data and the matching Size.
func (r *RXPK) SetData(b []byte) {
	r.Data = b
	r.Size = uint16(len(b))
}

// Validate checks every field against PROTOCOL.TXT and the package's bounds.
// The error wraps ErrFieldRange.
func (r *RXPK) Validate() error {
	if err := checkTime("rxpk", r.Time); err != nil {
		return err
	}
	if err := checkTmms("rxpk", r.Tmms); err != nil {
		return err
	}
	if err := checkFreq("rxpk", r.Freq); err != nil {
		return err
	}
	if r.Stat != CRCOK && r.Stat != CRCBad && r.Stat != CRCNone {
		return fmt.Errorf("%w: rxpk stat %d not in {-1, 0, 1}", ErrFieldRange, r.Stat)
	}
	if !r.Modu.valid() {
		return fmt.Errorf("%w: rxpk modu %q", ErrFieldRange, r.Modu)
	}
	if r.DatR.Modulation() != r.Modu {
		return fmt.Errorf("%w: rxpk datr %q does not match modu %s", ErrFieldRange, r.DatR, r.Modu)
	}
	if r.CodR != "" && !validCodingRate(r.CodR) {
		return fmt.Errorf("%w: rxpk codr %q", ErrFieldRange, r.CodR)
	}
	if err := checkRSSI("rssi", r.RSSI); err != nil {
		return err
	}
	if r.RSSIS != nil {
		if err := checkRSSI("rssis", *r.RSSIS); err != nil {
			return err
		}
	}
	if r.RSSIC != nil {
		if err := checkRSSI("rssic", *r.RSSIC); err != nil {
			return err
		}
	}
	if !(r.LSNR >= -MaxAbsSNR && r.LSNR <= MaxAbsSNR) {
		return fmt.Errorf("%w: rxpk lsnr %v dB", ErrFieldRange, r.LSNR)
	}
	if r.FOff != nil && (*r.FOff < -MaxAbsFreqOffset || *r.FOff > MaxAbsFreqOffset) {
		return fmt.Errorf("%w: rxpk foff %d Hz", ErrFieldRange, *r.FOff)
	}
	return checkPayload("rxpk", r.Size, r.Data)
}

// checkRSSI validates one RSSI field.
func checkRSSI(name string, v int16) error {
	if v < MinRSSI || v > MaxRSSI {
		return fmt.Errorf("%w: rxpk %s %d dBm outside [%d, %d]", ErrFieldRange, name, v, MinRSSI, MaxRSSI)
	}
	return nil
}
