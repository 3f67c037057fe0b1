// Package beacon builds proof-of-coverage beacons deterministically, so that
// the hotspot agent that transmits one and the verifier that checks it derive
// the same payload, channel, data rate and power (DESIGN.md Appendix A). It is
// cgo-free: the agent imports it.
package beacon

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
)

// Sizes of a beacon.
const (
	PayloadSize = 51              // the generated payload
	FrameSize   = PayloadSize + 1 // on air: LoRaWAN Proprietary MHDR + payload
	LocalSize   = 4               // local random bytes mixed into the seed
	MHDR        = 0xE0            // LoRaWAN MType Proprietary, Major 0
)

// Sentinel errors.
var (
	ErrBadInput  = errors.New("beacon: bad input")
	ErrNotBeacon = errors.New("beacon: frame is not a beacon")
)

// Beacon is a beacon as transmitted.
type Beacon struct {
	Payload      []byte // PayloadSize bytes
	Frequency    uint64 // Hz
	DataRate     string // e.g. "SF12BW125"
	SF           int
	BandwidthKHz int
	TxPowerDBm   int32 // conducted power
}

// Frame returns the on-air LoRaWAN Proprietary frame (MHDR ‖ payload).
func (b *Beacon) Frame() []byte { return append([]byte{MHDR}, b.Payload...) }

// Seed is SHA-256(entropy ‖ entropy timestamp i64 LE ‖ local bytes ‖ 0 i64 LE).
func Seed(entropy []byte, entropyTimestamp int64, local []byte) [32]byte {
	h := sha256.New()
	h.Write(entropy)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(entropyTimestamp))
	h.Write(b[:])
	h.Write(local)
	binary.LittleEndian.PutUint64(b[:], 0)
	h.Write(b[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Payload expands a seed into the beacon payload with the ChaCha8 generator
// of Go's math/rand/v2 (specified at c2sp.org/chacha8rand, so it is stable
// across Go versions and platforms).
func Payload(seed [32]byte) []byte {
	p := make([]byte, PayloadSize)
	r := rand.NewChaCha8(seed)
	_, _ = r.Read(p) // ChaCha8.Read never fails
	return p
}

// Build derives the whole beacon for a region and the beaconer's antenna gain
// (dBi × 10).
func Build(entropy []byte, entropyTimestamp int64, local []byte, region wire.Region, gainDBiX10 int32) (*Beacon, error) {
	if len(entropy) == 0 || len(entropy) > 64 {
		return nil, fmt.Errorf("%w: entropy length %d", ErrBadInput, len(entropy))
	}
	if len(local) != LocalSize {
		return nil, fmt.Errorf("%w: local entropy length %d, want %d", ErrBadInput, len(local), LocalSize)
	}
	reg, err := lorawan.RegionByID(region)
	if err != nil {
		return nil, fmt.Errorf("beacon: %w", err)
	}
	p := Payload(Seed(entropy, entropyTimestamp, local))
	ch, err := Channel(reg, p)
	if err != nil {
		return nil, err
	}
	dr, err := reg.BeaconDataRate(PayloadSize)
	if err != nil {
		return nil, fmt.Errorf("beacon: %w", err)
	}
	return &Beacon{
		Payload:      p,
		Frequency:    ch.Frequency,
		DataRate:     dr.Name,
		SF:           dr.SF,
		BandwidthKHz: dr.BandwidthKHz,
		TxPowerDBm:   TxPower(reg.MaxEIRP, gainDBiX10),
	}, nil
}

// Channel picks the beacon channel: the region's beacon channel list indexed
// by the little-endian u16 of payload bytes 0–1, modulo the channel count.
func Channel(reg *lorawan.Region, payload []byte) (lorawan.Channel, error) {
	chs := reg.BeaconChannels()
	if len(chs) == 0 {
		return lorawan.Channel{}, fmt.Errorf("%w: region %s has no beacon channels", ErrBadInput, reg.Name)
	}
	if len(payload) < 2 {
		return lorawan.Channel{}, fmt.Errorf("%w: payload length %d", ErrBadInput, len(payload))
	}
	return chs[int(binary.LittleEndian.Uint16(payload[:2]))%len(chs)], nil
}

// TxPower is the conducted power: trunc(max EIRP − antenna gain) in dBm.
func TxPower(maxEIRP float64, gainDBiX10 int32) int32 {
	return int32(math.Trunc(maxEIRP - float64(gainDBiX10)/10))
}

// PayloadFromFrame returns the payload of an on-air beacon frame, or
// ErrNotBeacon when the frame is not a Proprietary frame of FrameSize bytes.
func PayloadFromFrame(frame []byte) ([]byte, error) {
	if len(frame) != FrameSize || frame[0] != MHDR {
		return nil, ErrNotBeacon
	}
	return frame[1:], nil
}
