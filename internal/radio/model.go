// Package radio is the devnet's simulated air: a link-budget model (path
// loss, shadowing, antenna gains, elevation, thermal noise, demodulation
// floors), LoRa airtime, collisions with capture, and regional duty cycle.
//
// Equations (defaults in DefaultModel, each a config value):
//
//	FSPL(d, f)    = 20·log10(4π·d·f / c),  c = 2.998e8 m/s                  (Friis free space)
//	PL(d, f)      = FSPL(1 m, f) + 10·n_eff·log10(d / 1 m) + X              (log-distance, Rappaport §4.9)
//	n_eff         = max(NMin, n − ElevationSlope·max(0, (h_tx + h_rx)/2 − ElevationRef))
//	X ~ N(0, σ²)  drawn once per link from the seed, the same in both directions (log-normal shadowing)
//	RSSI          = P_tx + G_tx + G_rx − PL(d, f)                            (dBm, gains in dBi)
//	N             = −174 dBm/Hz + 10·log10(BW) + NF                          (thermal noise + noise figure)
//	SNR           = RSSI − N; a frame demodulates when SNR ≥ floor(SF)       (Semtech SX1276 datasheet table 13)
//	floor(SF)     = SF7 −7.5, SF8 −10, SF9 −12.5, SF10 −15, SF11 −17.5, SF12 −20 dB
//	airtime       = Semtech AN1200.13 (internal/lorawan.Airtime)
//	capture       : of two overlapping frames on one channel and SF, the one ≥ CaptureDB stronger survives; else both are lost
//	duty cycle    : EU868 sub-bands 1 % of airtime over a sliding hour per transmitter
package radio

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// SpeedOfLight in m/s, as DESIGN.md uses it.
const SpeedOfLight = 2.998e8

// Model holds the radio model's parameters.
type Model struct {
	PathLossExponent float64 // n: 2.7 suburban … 3.5 dense urban
	ShadowingSigma   float64 // σ of log-normal shadowing, dB
	NoiseFigure      float64 // receiver noise figure, dB
	CaptureDB        float64 // capture threshold, dB
	ElevationRef     float64 // mean antenna height (m) at which n applies unchanged
	ElevationSlope   float64 // decrease of n per metre of mean height above ElevationRef
	NMin             float64 // n never falls below this (free space is 2)
	Seed             uint64  // shadowing seed
}

// DefaultModel returns the textbook defaults of DESIGN.md Appendix B.
func DefaultModel() Model {
	return Model{
		PathLossExponent: 2.7,
		ShadowingSigma:   6,
		NoiseFigure:      6,
		CaptureDB:        6,
		ElevationRef:     10,
		ElevationSlope:   0.01,
		NMin:             2.0,
		Seed:             1,
	}
}

// FSPL is the free-space path loss in dB at distance d (m) and frequency f (Hz).
func FSPL(d, f float64) float64 {
	return 20 * math.Log10(4*math.Pi*d*f/SpeedOfLight)
}

// Exponent is the effective path-loss exponent for two antenna heights (m above ground).
func (m Model) Exponent(hTx, hRx float64) float64 {
	n := m.PathLossExponent - m.ElevationSlope*math.Max(0, (hTx+hRx)/2-m.ElevationRef)
	return math.Max(m.NMin, n)
}

// PathLoss is the mean log-distance path loss (without shadowing) in dB.
func (m Model) PathLoss(d, f, hTx, hRx float64) float64 {
	if d < 1 {
		d = 1
	}
	return FSPL(1, f) + 10*m.Exponent(hTx, hRx)*math.Log10(d)
}

// Shadowing is the link's shadowing term in dB: deterministic from the seed
// and the unordered pair of endpoint ids, so both directions see the same value.
func (m Model) Shadowing(a, b string) float64 {
	if m.ShadowingSigma == 0 {
		return 0
	}
	if a > b {
		a, b = b, a
	}
	h := sha256.New()
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], m.Seed)
	h.Write(s[:])
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(b))
	sum := h.Sum(nil)
	u1 := (float64(binary.LittleEndian.Uint64(sum[0:8])>>11) + 0.5) / (1 << 53)
	u2 := (float64(binary.LittleEndian.Uint64(sum[8:16])>>11) + 0.5) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2) // Box–Muller
	return z * m.ShadowingSigma
}

// NoiseFloor is the thermal noise power in dBm over a bandwidth in Hz.
func (m Model) NoiseFloor(bwHz float64) float64 {
	return -174 + 10*math.Log10(bwHz) + m.NoiseFigure
}

// SNRFloor is the demodulation SNR floor of a spreading factor, dB.
func SNRFloor(sf int) float64 {
	switch {
	case sf <= 7:
		return -7.5
	case sf >= 12:
		return -20
	}
	return -7.5 - 2.5*float64(sf-7)
}

// Sensitivity is the weakest RSSI (dBm) that demodulates at sf and bandwidth bwHz.
func (m Model) Sensitivity(sf int, bwHz float64) float64 { return SNRFloor(sf) + m.NoiseFloor(bwHz) }

// Link is one transmitter→receiver link.
type Link struct {
	TxID, RxID           string
	DistanceM            float64
	FrequencyHz          float64
	TxPowerDBm           float64 // conducted power
	TxGainDBi            float64
	RxGainDBi            float64
	TxHeightM, RxHeightM float64
}

// Reception is what a receiver measures of a frame.
type Reception struct {
	RSSI float64 // dBm
	SNR  float64 // dB
	OK   bool    // above the demodulation floor
}

// Receive computes the link budget at the receiver for a frame at sf and bandwidth bwHz.
func (m Model) Receive(l Link, sf int, bwHz float64) Reception {
	pl := m.PathLoss(l.DistanceM, l.FrequencyHz, l.TxHeightM, l.RxHeightM) + m.Shadowing(l.TxID, l.RxID)
	rssi := l.TxPowerDBm + l.TxGainDBi + l.RxGainDBi - pl
	snr := rssi - m.NoiseFloor(bwHz)
	return Reception{RSSI: rssi, SNR: snr, OK: snr >= SNRFloor(sf)}
}

// Distance is the great-circle distance in metres between two points (degrees).
func Distance(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371008.8
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lng2-lng1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}
