package radio

import (
	"math"
	"testing"
	"time"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %g", what, got, want, tol)
	}
}

// Hand-computed link budgets (values computed independently from the
// equations in the package doc).
func TestLinkBudgetByHand(t *testing.T) {
	m := DefaultModel()
	m.ShadowingSigma = 0
	// FSPL(1 m, 868 MHz) = 20·log10(4π·868e6/2.998e8) = 31.2180 dB
	near(t, "FSPL(1m, 868MHz)", FSPL(1, 868e6), 31.2180, 0.001)
	// FSPL(1 km, 868 MHz) = 31.2180 + 60 = 91.2180 dB
	near(t, "FSPL(1km, 868MHz)", FSPL(1000, 868e6), 91.2180, 0.001)
	// Noise at 125 kHz with NF 6: −174 + 50.9691 + 6 = −117.0309 dBm
	near(t, "noise 125k", m.NoiseFloor(125e3), -117.0309, 0.001)
	// Sensitivity SF12 = −20 − 117.0309 = −137.0309 dBm; SF7 = −124.5309
	near(t, "sens SF12", m.Sensitivity(12, 125e3), -137.0309, 0.001)
	near(t, "sens SF7", m.Sensitivity(7, 125e3), -124.5309, 0.001)
	// 2 km link, n = 2.7 at 10 m heights: PL = 31.2180 + 27·log10(2000) = 31.2180 + 89.1278 = 120.3458 dB.
	// 14 dBm conducted, 3 dBi + 2 dBi: RSSI = 14 + 5 − 120.3458 = −101.3458 dBm; SNR = 15.6851 dB.
	r := m.Receive(Link{TxID: "a", RxID: "b", DistanceM: 2000, FrequencyHz: 868e6, TxPowerDBm: 14, TxGainDBi: 3, RxGainDBi: 2, TxHeightM: 10, RxHeightM: 10}, 12, 125e3)
	near(t, "rssi 2km", r.RSSI, -101.3458, 0.001)
	near(t, "snr 2km", r.SNR, 15.6851, 0.001)
	if !r.OK {
		t.Error("2 km link should demodulate")
	}
	// 30 km at SF7: PL = 31.2180 + 27·4.4771 = 152.1002; RSSI = 19 − 152.1052 = −133.1002 < −124.53: lost.
	r = m.Receive(Link{DistanceM: 30000, FrequencyHz: 868e6, TxPowerDBm: 14, TxGainDBi: 3, RxGainDBi: 2, TxHeightM: 10, RxHeightM: 10}, 7, 125e3)
	near(t, "rssi 30km", r.RSSI, -133.1002, 0.001)
	if r.OK {
		t.Error("30 km at SF7 should not demodulate")
	}
	// Elevation: mean height 60 m lowers n by 0.5 to 2.2.
	near(t, "n at 60 m", m.Exponent(100, 20), 2.2, 1e-9)
	near(t, "n floor", m.Exponent(1000, 1000), 2.0, 1e-9)
}

func TestShadowingSymmetricAndSeeded(t *testing.T) {
	m := DefaultModel()
	if m.Shadowing("a", "b") != m.Shadowing("b", "a") {
		t.Fatal("shadowing not symmetric")
	}
	m2 := m
	m2.Seed = 2
	if m.Shadowing("a", "b") == m2.Shadowing("a", "b") {
		t.Fatal("seed has no effect")
	}
	// The sample standard deviation over many links is close to σ.
	var sum, sq float64
	const n = 4000
	for i := 0; i < n; i++ {
		x := m.Shadowing("tx", string(rune('A'+i%26))+string(rune(i)))
		sum += x
		sq += x * x
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean) > 0.4 || math.Abs(sd-6) > 0.4 {
		t.Fatalf("shadowing mean %.3f sd %.3f, want ≈0 and ≈6", mean, sd)
	}
}

func TestCollisionsAndCapture(t *testing.T) {
	air := NewAir(6)
	t0 := time.Unix(0, 0)
	a := air.Transmit(Frame{From: "a", FrequencyHz: 868100000, SF: 7, Start: t0, End: t0.Add(50 * time.Millisecond)})
	b := air.Transmit(Frame{From: "b", FrequencyHz: 868100000, SF: 7, Start: t0.Add(20 * time.Millisecond), End: t0.Add(70 * time.Millisecond)})
	c := air.Transmit(Frame{From: "c", FrequencyHz: 868300000, SF: 7, Start: t0, End: t0.Add(50 * time.Millisecond)})
	rssi := map[uint64]float64{a.ID: -80, b.ID: -90, c.ID: -60}
	at := func(f Frame) (float64, bool) { r, ok := rssi[f.ID]; return r, ok }
	if !air.Survives(a, at) {
		t.Error("a is 10 dB above b: captured, should survive")
	}
	if air.Survives(b, at) {
		t.Error("b is 10 dB below a: lost")
	}
	if !air.Survives(c, at) {
		t.Error("c is on another channel: no collision")
	}
	rssi[b.ID] = -83 // only 3 dB apart: both lost
	if air.Survives(a, at) || air.Survives(b, at) {
		t.Error("3 dB apart: both should be lost")
	}
}

func TestDutyCycle(t *testing.T) {
	dc := NewDutyCycle(0.01, time.Hour) // 36 s per hour
	t0 := time.Unix(0, 0)
	for i := 0; i < 36; i++ {
		if !dc.Allow("gw", t0.Add(time.Duration(i)*time.Second), time.Second) {
			t.Fatalf("transmission %d refused within budget", i)
		}
	}
	if dc.Allow("gw", t0.Add(40*time.Second), time.Second) {
		t.Fatal("37th second of airtime allowed")
	}
	if !dc.Allow("other", t0, time.Second) {
		t.Fatal("budget is per transmitter")
	}
	if !dc.Allow("gw", t0.Add(time.Hour+time.Second), time.Second) {
		t.Fatal("budget not restored after the window")
	}
}
