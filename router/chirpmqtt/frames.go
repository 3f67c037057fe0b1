package chirpmqtt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The JSON below follows the protobuf JSON mapping (lowerCamelCase names,
// bytes as standard base64, enums as their names, Duration as "1.5s",
// Timestamp as RFC 3339) of ChirpStack v4's api/proto/gw/gw.proto messages
// UplinkFrame, DownlinkFrame and DownlinkTxAck, which is what the ChirpStack
// gateway bridge publishes and ChirpStack sends with its JSON marshaler.

// UplinkFrame is gw.UplinkFrame, published on {region}/gateway/{id}/event/up.
type UplinkFrame struct {
	PHYPayload []byte       `json:"phyPayload"`
	TxInfo     UplinkTxInfo `json:"txInfo"`
	RxInfo     UplinkRxInfo `json:"rxInfo"`
}

// UplinkTxInfo is gw.UplinkTxInfo.
type UplinkTxInfo struct {
	Frequency  uint32     `json:"frequency"`
	Modulation Modulation `json:"modulation"`
}

// Modulation is gw.Modulation (LoRa only).
type Modulation struct {
	LoRa *LoRaModulationInfo `json:"lora,omitempty"`
}

// LoRaModulationInfo is gw.LoraModulationInfo. Bandwidth is in Hz; CodeRate
// is a gw.CodeRate name ("CR_4_5").
type LoRaModulationInfo struct {
	Bandwidth             uint32 `json:"bandwidth"`
	SpreadingFactor       uint32 `json:"spreadingFactor"`
	CodeRate              string `json:"codeRate,omitempty"`
	PolarizationInversion bool   `json:"polarizationInversion,omitempty"`
}

// UplinkRxInfo is gw.UplinkRxInfo. Context is the gateway context ChirpStack
// copies into the Class-A downlink: here the 4-byte big-endian concentrator
// counter (tmst) of the copy, followed by the 32-byte packet hash.
type UplinkRxInfo struct {
	GatewayID string            `json:"gatewayId"`
	UplinkID  uint32            `json:"uplinkId"`
	GwTime    *time.Time        `json:"gwTime,omitempty"`
	NsTime    *time.Time        `json:"nsTime,omitempty"`
	RSSI      int32             `json:"rssi"`
	SNR       float32           `json:"snr"`
	Channel   uint32            `json:"channel"`
	Context   []byte            `json:"context"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CRCStatus string            `json:"crcStatus"`
}

// DownlinkFrame is gw.DownlinkFrame, received on {region}/gateway/{id}/command/down.
type DownlinkFrame struct {
	DownlinkID uint32              `json:"downlinkId"`
	Items      []DownlinkFrameItem `json:"items"`
	GatewayID  string              `json:"gatewayId"`
}

// DownlinkFrameItem is gw.DownlinkFrameItem.
type DownlinkFrameItem struct {
	PHYPayload []byte         `json:"phyPayload"`
	TxInfo     DownlinkTxInfo `json:"txInfo"`
}

// DownlinkTxInfo is gw.DownlinkTxInfo.
type DownlinkTxInfo struct {
	Frequency  uint32     `json:"frequency"`
	Power      int32      `json:"power"`
	Modulation Modulation `json:"modulation"`
	Timing     Timing     `json:"timing"`
	Context    []byte     `json:"context,omitempty"`
}

// Timing is gw.Timing: exactly one of Immediately, Delay and GPSEpoch.
type Timing struct {
	Immediately *struct{}        `json:"immediately,omitempty"`
	Delay       *DelayTimingInfo `json:"delay,omitempty"`
	GPSEpoch    *json.RawMessage `json:"gpsEpoch,omitempty"`
}

// DelayTimingInfo is gw.DelayTimingInfo; Delay is a protobuf JSON Duration ("1s").
type DelayTimingInfo struct {
	Delay Duration `json:"delay"`
}

// DownlinkTxAck is gw.DownlinkTxAck, published on {region}/gateway/{id}/event/ack.
type DownlinkTxAck struct {
	GatewayID  string              `json:"gatewayId"`
	DownlinkID uint32              `json:"downlinkId"`
	Items      []DownlinkTxAckItem `json:"items"`
}

// DownlinkTxAckItem is gw.DownlinkTxAckItem; Status is a gw.TxAckStatus name.
type DownlinkTxAckItem struct {
	Status string `json:"status"`
}

// TxAck statuses (gw.TxAckStatus names) this package sends.
const (
	StatusIgnored       = "IGNORED"
	StatusOK            = "OK"
	StatusTooLate       = "TOO_LATE"
	StatusTxFreq        = "TX_FREQ"
	StatusInternalError = "INTERNAL_ERROR"
)

// Duration is a protobuf JSON Duration: decimal seconds with an "s" suffix
// ("1s", "0.500s", "-2.25s").
type Duration time.Duration

// ErrBadDuration reports a malformed protobuf JSON Duration.
var ErrBadDuration = errors.New("chirpmqtt: bad duration")

// maxDuration bounds a downlink delay: nothing in LoRaWAN class A is later
// than the 6 s join-accept RX2 window, so anything above a minute is junk.
const maxDuration = time.Minute

// MarshalJSON writes the protobuf JSON form.
func (d Duration) MarshalJSON() ([]byte, error) {
	v := time.Duration(d)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	s := strconv.FormatInt(int64(v/time.Second), 10)
	if ns := v % time.Second; ns != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
	}
	return []byte(`"` + sign + s + `s"`), nil
}

// UnmarshalJSON reads the protobuf JSON form; magnitudes over a minute are refused.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadDuration, err)
	}
	body, ok := strings.CutSuffix(s, "s")
	neg := strings.HasPrefix(body, "-")
	body = strings.TrimPrefix(body, "-")
	whole, frac, _ := strings.Cut(body, ".")
	if !ok || whole == "" || len(whole) > 2 || len(frac) > 9 || !digits(whole) || !digits(frac) {
		return fmt.Errorf("%w: %q", ErrBadDuration, s)
	}
	sec, _ := strconv.Atoi(whole)
	ns := 0
	if frac != "" {
		ns, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
	}
	v := time.Duration(sec)*time.Second + time.Duration(ns)
	if v > maxDuration {
		return fmt.Errorf("%w: %q over %v", ErrBadDuration, s, maxDuration)
	}
	if neg {
		v = -v
	}
	*d = Duration(v)
	return nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// codeRates maps the forwarder's "4/5" spelling to gw.CodeRate names.
var codeRates = map[string]string{"4/5": "CR_4_5", "4/6": "CR_4_6", "4/7": "CR_4_7", "4/8": "CR_4_8"}

// contextLen is the length of the gateway context we put in rxInfo.
const contextLen = 4 + 32

// makeContext encodes the uplink's tmst and packet hash.
func makeContext(tmst uint32, hash [32]byte) []byte {
	b := make([]byte, contextLen)
	binary.BigEndian.PutUint32(b, tmst)
	copy(b[4:], hash[:])
	return b
}

// ErrBadContext reports a downlink context we did not issue.
var ErrBadContext = errors.New("chirpmqtt: bad downlink context")

// parseContext reads a context: 4 bytes of tmst, optionally followed by
// the 32-byte packet hash (the 4-byte form is what the gateway bridge's
// Semtech UDP backend uses).
func parseContext(b []byte) (tmst uint32, hash [32]byte, hasHash bool, err error) {
	switch len(b) {
	case 4, contextLen:
	default:
		return 0, hash, false, fmt.Errorf("%w: %d bytes", ErrBadContext, len(b))
	}
	tmst = binary.BigEndian.Uint32(b)
	if len(b) == contextLen {
		copy(hash[:], b[4:])
		hasHash = true
	}
	return tmst, hash, hasHash, nil
}
