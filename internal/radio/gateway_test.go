package radio

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
)

// A device's uplink reaches a GWMP server through the simulated gateway with
// the link budget's RSSI, and the server's timed downlink reaches the device.
func TestGatewayUplinkAndDownlink(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	m := DefaultModel()
	m.ShadowingSigma = 0
	clk := clock.Real{}
	med := NewMedium(m, clk)
	gwNode := &Node{ID: "gw", Lat: 52.0, Lng: 5.0, HeightM: 10, GainDBi: 3}
	gw := NewGateway(GatewayConfig{Node: gwNode, Server: srv.LocalAddr().String(), EUI: gwmp.EUI{1, 2, 3, 4, 5, 6, 7, 8}, KeepAlive: 50 * time.Millisecond}, med, clk)
	go gw.Run(ctx)

	heard := make(chan Transmission, 1)
	dev := &Node{ID: "dev", Lat: 52.0, Lng: 5.0 + 0.0146, HeightM: 10, GainDBi: 0, // ≈ 1 km east
		Receive: func(r Reception, tr Transmission) {
			if !tr.UplinkPol {
				heard <- tr
			}
		}}
	med.Add(dev)

	// Wait for the PULL_DATA so we know the downstream address.
	buf := make([]byte, 65536)
	var downAddr *net.UDPAddr
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	for downAddr == nil {
		n, addr, err := srv.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := gwmp.Decode(buf[:n]); err == nil {
			if _, ok := p.(*gwmp.PullData); ok {
				downAddr = addr
			}
		}
	}
	med.Transmit("dev", Transmission{Frame: Frame{FrequencyHz: 868100000, SF: 7, BandwidthKHz: 125, PowerDBm: 14}, Payload: []byte("hello"), UplinkPol: true}, nil)
	var rx *gwmp.RXPK
	for rx == nil {
		n, _, err := srv.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := gwmp.Decode(buf[:n]); err == nil {
			if pd, ok := p.(*gwmp.PushData); ok && len(pd.RXPK) == 1 {
				rx = &pd.RXPK[0]
			}
		}
	}
	d := Distance(52, 5, 52, 5.0146)
	want := 14 + 3 + 0 - m.PathLoss(d, 868.1e6, 10, 10)
	if got := float64(rx.RSSI); got < want-1 || got > want+1 || string(rx.Data) != "hello" || rx.FreqHz() != 868100000 || rx.DatR.SF() != 7 {
		t.Fatalf("rxpk %+v, want rssi ≈ %.1f", rx, want)
	}
	// Downlink 200 ms after the uplink's tmst.
	tm := rx.Tmst + 200000
	dr, _ := gwmp.LoRaDataRate(7, 125)
	resp := &gwmp.PullResp{Header: gwmp.Header{Version: 2, Token: 7}, TXPK: gwmp.TXPK{Tmst: &tm, Powe: 14, Modu: gwmp.ModulationLoRa, DatR: dr, CodR: "4/5", IPol: true}}
	resp.TXPK.SetFreqHz(868100000)
	resp.TXPK.SetData([]byte("reply"))
	b, err := resp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	srv.WriteToUDP(b, downAddr)
	select {
	case tr := <-heard:
		if string(tr.Payload) != "reply" {
			t.Fatalf("device heard %q", tr.Payload)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("device did not hear the downlink")
	}
	// A txpk whose time has passed is refused with TOO_LATE.
	late := rx.Tmst
	resp.TXPK.Tmst = &late
	resp.Token = 8
	b, _ = resp.MarshalBinary()
	srv.WriteToUDP(b, downAddr)
	for {
		n, _, err := srv.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := gwmp.Decode(buf[:n]); err == nil {
			if ack, ok := p.(*gwmp.TxAck); ok && ack.Token == 8 {
				if ack.Error != gwmp.TxErrorTooLate {
					t.Fatalf("late txpk: %q", ack.Error)
				}
				break
			}
		}
	}
}

// TestReportedClampsToTheConcentrator: a frame from next door is reported
// at the concentrator's saturation, not at the link budget's SNR, and
// every report fits the rxpk codec's ranges.
func TestReportedClampsToTheConcentrator(t *testing.T) {
	for _, tc := range []struct {
		in   Reception
		rssi int16
		lsnr float64
	}{
		{Reception{RSSI: -97.4, SNR: 7.26}, -97, 7.3},
		{Reception{RSSI: -130.2, SNR: -18.04}, -130, -18},
		{Reception{RSSI: -10, SNR: 60.5}, -10, 31.8}, // 31.75 rounded to tenths
		{Reception{RSSI: 35, SNR: 95}, gwmp.MaxRSSI, 31.8},
		{Reception{RSSI: -250, SNR: -40}, gwmp.MinRSSI, -32},
	} {
		rssi, lsnr := reported(tc.in)
		if rssi != tc.rssi || lsnr != tc.lsnr {
			t.Errorf("reported(%+v) = %d dBm, %.2f dB; want %d, %.2f", tc.in, rssi, lsnr, tc.rssi, tc.lsnr)
		}
		rx := gwmp.RXPK{Stat: gwmp.CRCOK, Modu: gwmp.ModulationLoRa, CodR: "4/5", RSSI: rssi, LSNR: lsnr}
		rx.DatR, _ = gwmp.LoRaDataRate(7, 125)
		rx.SetFreqHz(868100000)
		rx.SetData([]byte{1})
		p := &gwmp.PushData{Header: gwmp.Header{Version: gwmp.Version2, Token: 1}, RXPK: []gwmp.RXPK{rx}}
		if _, err := p.MarshalBinary(); err != nil {
			t.Errorf("reported(%+v) does not encode: %v", tc.in, err)
		}
	}
}
