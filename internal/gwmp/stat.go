package gwmp

import (
	"fmt"
	"time"
)

// StatTimeLayout is the "expanded" ISO 8601 layout of the stat "time" field
// as written by the reference forwarder, e.g. "2014-01-12 08:59:28 GMT".
const StatTimeLayout = "2006-01-02 15:04:05 MST"

// Bounds of the gateway altitude accepted in "alti", in metres.
const (
	// MinAltitude is the lowest altitude accepted (Dead Sea shore with
	// margin for GPS error).
	MinAltitude = -1000
	// MaxAltitude is the highest altitude accepted (a gateway on a
	// high-altitude balloon still fits).
	MaxAltitude = 50000
)

// Stat is the gateway status object, the "stat" of PUSH_DATA (PROTOCOL.TXT
// section 4). Lati, Long and Alti are nil when the gateway has no GPS fix.
type Stat struct {
	// Time is the gateway's UTC system time in StatTimeLayout; see
	// ParseTime and SetTime.
	Time string `json:"time"`
	// Lati is the GPS latitude in degrees, north positive.
	Lati *float64 `json:"lati,omitempty"`
	// Long is the GPS longitude in degrees, east positive.
	Long *float64 `json:"long,omitempty"`
	// Alti is the GPS altitude in metres.
	Alti *int32 `json:"alti,omitempty"`
	// RXNb is the number of radio packets received.
	RXNb uint32 `json:"rxnb"`
	// RXOK is the number of radio packets received with a valid CRC.
	RXOK uint32 `json:"rxok"`
	// RXFW is the number of radio packets forwarded.
	RXFW uint32 `json:"rxfw"`
	// ACKR is the percentage of upstream datagrams acknowledged, 0–100.
	ACKR float64 `json:"ackr"`
	// DWNb is the number of downlink datagrams received.
	DWNb uint32 `json:"dwnb"`
	// TXNb is the number of packets emitted.
	TXNb uint32 `json:"txnb"`
}

// ParseTime parses Time in StatTimeLayout ("2014-01-12 08:59:28 GMT"),
// also accepting RFC 3339.
func (s *Stat) ParseTime() (time.Time, error) {
	if t, err := time.Parse(StatTimeLayout, s.Time); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.Time)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: stat time %q", ErrFieldRange, s.Time)
	}
	return t.UTC(), nil
}

// SetTime sets Time to t in UTC, written in StatTimeLayout with zone "GMT".
func (s *Stat) SetTime(t time.Time) {
	s.Time = t.UTC().Format("2006-01-02 15:04:05") + " GMT"
}

// SetLocation sets Lati, Long and Alti.
func (s *Stat) SetLocation(lat, lon float64, alt int32) {
	s.Lati, s.Long, s.Alti = &lat, &lon, &alt
}

// Validate checks coordinates and the acknowledgement ratio. The time string
// is not checked: forwarders write it in several layouts and only ParseTime
// needs it. The error wraps ErrFieldRange.
func (s *Stat) Validate() error {
	if len(s.Time) > 64 {
		return fmt.Errorf("%w: stat time of %d bytes", ErrFieldRange, len(s.Time))
	}
	if s.Lati != nil && !(*s.Lati >= -90 && *s.Lati <= 90) {
		return fmt.Errorf("%w: stat lati %v", ErrFieldRange, *s.Lati)
	}
	if s.Long != nil && !(*s.Long >= -180 && *s.Long <= 180) {
		return fmt.Errorf("%w: stat long %v", ErrFieldRange, *s.Long)
	}
	if s.Alti != nil && (*s.Alti < MinAltitude || *s.Alti > MaxAltitude) {
		return fmt.Errorf("%w: stat alti %d m", ErrFieldRange, *s.Alti)
	}
	if !(s.ACKR >= 0 && s.ACKR <= 100) {
		return fmt.Errorf("%w: stat ackr %v%%", ErrFieldRange, s.ACKR)
	}
	return nil
}
