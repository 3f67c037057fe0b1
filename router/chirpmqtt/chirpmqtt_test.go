package chirpmqtt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type msg struct {
	topic   string
	payload []byte
}

// startBroker runs the embedded broker with full access for the given keys.
func startBroker(t *testing.T, keys ...*identity.Key) string {
	t.Helper()
	var svc []string
	for _, k := range keys {
		svc = append(svc, string(k.Address()))
	}
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Services: svc}, broker.Deps{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("broker not ready")
	}
	return "tcp://" + b.Addr()
}

func recv[T any](t *testing.T, c chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// TestRoundTrip runs a Sender against the embedded broker and a fake LNS:
// the LNS receives the uplink as ChirpStack UplinkFrame JSON, answers with a
// DownlinkFrame, the Sender hands the router a Downlink scheduled at the
// context's tmst + delay, and the LNS gets the ack.
func TestRoundTrip(t *testing.T) {
	sk, _ := identity.Generate()
	lk, _ := identity.Generate()
	hk, _ := identity.Generate()
	url := startBroker(t, sk, lk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	lnsMsgs := make(chan msg, 16)
	lns, err := mqttc.Dial(ctx, mqttc.Config{URL: url, Key: lk, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer lns.Close()
	if err := lns.Subscribe("eu868/gateway/+/event/+", 1, func(topic string, p []byte) { lnsMsgs <- msg{topic, p} }); err != nil {
		t.Fatal(err)
	}

	downs := make(chan delivery.Downlink, 4)
	s, err := Dialer(Config{Key: sk}, quiet())(routes.Destination{Protocol: routes.ProtocolChirpStackMQTT, Address: url, Region: "eu868"},
		func(d delivery.Downlink) { downs <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go s.Run(ctx)

	phy := []byte{0x40, 1, 2, 3, 4, 0, 1, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd}
	hash := sha256.Sum256(phy)
	up := &wire.PacketUp{Payload: phy, Tmst: 4_000_000_000, Rssi: -87, Snr: 7.5, Frequency: 868_300_000,
		DataRate: "SF9BW125", CodingRate: "4/5", Region: wire.Region_EU868, ReceivedAtMs: 1_700_000_000_123}
	if err := s.Send(ctx, &delivery.Uplink{PacketHash: hash, Hotspot: hk.Public(), Up: up, ReceivedAt: time.Unix(1_700_000_000, 0)}); err != nil {
		t.Fatal(err)
	}
	gw := GatewayID(hk.Public())
	m := recv(t, lnsMsgs, "event/up")
	if m.topic != "eu868/gateway/"+gw+"/event/up" {
		t.Fatalf("topic %q", m.topic)
	}
	// Check the wire names, not only our own round trip.
	var raw struct {
		PHYPayload string `json:"phyPayload"`
		TxInfo     struct {
			Frequency  uint32
			Modulation struct {
				Lora struct {
					Bandwidth       uint32
					SpreadingFactor uint32
					CodeRate        string
				}
			}
		}
		RxInfo struct {
			GatewayID string `json:"gatewayId"`
			UplinkID  uint32 `json:"uplinkId"`
			Rssi      int32
			Snr       float32
			Context   string
			GwTime    string `json:"gwTime"`
			CrcStatus string `json:"crcStatus"`
		}
	}
	if err := json.Unmarshal(m.payload, &raw); err != nil {
		t.Fatal(err)
	}
	lora := raw.TxInfo.Modulation.Lora
	if raw.PHYPayload != base64.StdEncoding.EncodeToString(phy) || raw.TxInfo.Frequency != 868_300_000 ||
		lora.Bandwidth != 125000 || lora.SpreadingFactor != 9 || lora.CodeRate != "CR_4_5" ||
		raw.RxInfo.GatewayID != gw || raw.RxInfo.Rssi != -87 || raw.RxInfo.Snr != 7.5 || raw.RxInfo.CrcStatus != "CRC_OK" ||
		raw.RxInfo.GwTime != "2023-11-14T22:13:20.123Z" {
		t.Fatalf("uplink frame %s", m.payload)
	}
	ctxb, _ := base64.StdEncoding.DecodeString(raw.RxInfo.Context)
	if len(ctxb) != 36 || binary.BigEndian.Uint32(ctxb) != up.Tmst {
		t.Fatalf("context %x", ctxb)
	}

	// The LNS answers in RX1 (1 s after the uplink) with an RX2 fallback.
	cmd := `{"downlinkId":4242,"gatewayId":"` + gw + `","items":[` +
		`{"phyPayload":"YAECAwQAAQABAg==","txInfo":{"frequency":868300000,"power":14,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":9,"codeRate":"CR_4_5","polarizationInversion":true}},"timing":{"delay":{"delay":"1s"}},"context":"` + raw.RxInfo.Context + `"}},` +
		`{"phyPayload":"YAECAwQAAQABAg==","txInfo":{"frequency":869525000,"power":27,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":12}},"timing":{"delay":{"delay":"2s"}},"context":"` + raw.RxInfo.Context + `"}}]}`
	if err := lns.Publish(ctx, "eu868/gateway/"+gw+"/command/down", 1, false, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	d := recv(t, downs, "downlink")
	if d.Hotspot != hk.Public() || !d.HasHash || d.PacketHash != hash || d.Tmst != up.Tmst+1_000_000 || d.Immediate ||
		d.Frequency != 868_300_000 || d.DataRate != "SF9BW125" || d.PowerDBm != 14 || len(d.Payload) != 10 || d.Done == nil {
		t.Fatalf("downlink %+v", d)
	}
	// Published is not transmitted: the ack waits for the hotspot's report.
	d.Done(nil)
	select {
	case m = <-lnsMsgs:
		t.Fatalf("ack before the hotspot reported: %s on %s", m.payload, m.topic)
	case <-time.After(200 * time.Millisecond):
	}
	if d.Ack == nil {
		t.Fatal("downlink without Ack")
	}
	d.Ack(wire.TxStatus_TX_OK)
	m = recv(t, lnsMsgs, "event/ack")
	var ack DownlinkTxAck
	if err := json.Unmarshal(m.payload, &ack); err != nil {
		t.Fatal(err)
	}
	if m.topic != "eu868/gateway/"+gw+"/event/ack" || ack.DownlinkID != 4242 || ack.GatewayID != gw ||
		len(ack.Items) != 2 || ack.Items[0].Status != StatusOK || ack.Items[1].Status != StatusIgnored {
		t.Fatalf("ack %s on %s", m.payload, m.topic)
	}

	// A refused downlink is acknowledged with an error status.
	if err := lns.Publish(ctx, "eu868/gateway/"+gw+"/command/down", 1, false, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	d = recv(t, downs, "second downlink")
	d.Done(errors.New("refused"))
	m = recv(t, lnsMsgs, "error ack")
	if err := json.Unmarshal(m.payload, &ack); err != nil || ack.Items[0].Status != StatusInternalError {
		t.Fatalf("error ack %s", m.payload)
	}

	// A gateway the sender never announced gets an error ack, and no downlink.
	other := "0102030405060708"
	if err := lns.Publish(ctx, "eu868/gateway/"+other+"/command/down", 1, false, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	m = recv(t, lnsMsgs, "unknown gateway ack")
	if err := json.Unmarshal(m.payload, &ack); err != nil || ack.GatewayID != other || ack.Items[0].Status != StatusInternalError {
		t.Fatalf("unknown gateway ack %s", m.payload)
	}
	select {
	case d := <-downs:
		t.Fatalf("downlink for an unknown gateway: %+v", d)
	default:
	}
	_ = s.Close()
	if err := s.Send(ctx, &delivery.Uplink{Hotspot: hk.Public(), Up: up}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestToDownlink(t *testing.T) {
	hk, _ := identity.Generate()
	var h [32]byte
	h[0] = 9
	lora := Modulation{LoRa: &LoRaModulationInfo{Bandwidth: 125000, SpreadingFactor: 7}}
	cases := []struct {
		name   string
		tx     DownlinkTxInfo
		status string
		check  func(delivery.Downlink) bool
	}{
		{"delay 5s, 36-byte context", DownlinkTxInfo{Modulation: lora, Timing: Timing{Delay: &DelayTimingInfo{Delay: Duration(5 * time.Second)}}, Context: makeContext(100, h)},
			StatusOK, func(d delivery.Downlink) bool { return d.Tmst == 5_000_100 && d.HasHash && d.PacketHash == h }},
		{"4-byte context wraps", DownlinkTxInfo{Modulation: lora, Timing: Timing{Delay: &DelayTimingInfo{Delay: Duration(time.Second)}}, Context: []byte{0xff, 0xff, 0xff, 0xff}},
			StatusOK, func(d delivery.Downlink) bool { return d.Tmst == 999_999 && !d.HasHash }},
		{"immediately", DownlinkTxInfo{Modulation: lora, Timing: Timing{Immediately: &struct{}{}}}, StatusOK,
			func(d delivery.Downlink) bool { return d.Immediate }},
		{"gps epoch unsupported", DownlinkTxInfo{Modulation: lora, Timing: Timing{GPSEpoch: new(json.RawMessage)}}, StatusInternalError, nil},
		{"no timing", DownlinkTxInfo{Modulation: lora}, StatusInternalError, nil},
		{"bad context", DownlinkTxInfo{Modulation: lora, Timing: Timing{Delay: &DelayTimingInfo{}}, Context: []byte{1, 2}}, StatusInternalError, nil},
		{"fsk", DownlinkTxInfo{Timing: Timing{Immediately: &struct{}{}}}, StatusTxFreq, nil},
		{"bad sf", DownlinkTxInfo{Modulation: Modulation{LoRa: &LoRaModulationInfo{Bandwidth: 125000, SpreadingFactor: 13}}, Timing: Timing{Immediately: &struct{}{}}}, StatusTxFreq, nil},
		{"negative delay", DownlinkTxInfo{Modulation: lora, Timing: Timing{Delay: &DelayTimingInfo{Delay: Duration(-time.Second)}}, Context: makeContext(1, h)}, StatusTooLate, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, status, err := toDownlink(hk.Public(), DownlinkFrameItem{PHYPayload: []byte{0x60}, TxInfo: c.tx})
			if status != c.status || (err == nil) != (c.status == StatusOK) {
				t.Fatalf("status %s err %v", status, err)
			}
			if c.check != nil && !c.check(d) {
				t.Fatalf("downlink %+v", d)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"1s"`, time.Second, true}, {`"0.500s"`, 500 * time.Millisecond, true}, {`"5.000000001s"`, 5*time.Second + 1, true},
		{`"-2.25s"`, -2250 * time.Millisecond, true}, {`"60s"`, time.Minute, true},
		{`"61s"`, 0, false}, {`"1"`, 0, false}, {`"s"`, 0, false}, {`".5s"`, 0, false}, {`"1.0000000001s"`, 0, false},
		{`"1e3s"`, 0, false}, {`1`, 0, false}, {`"999999999999999999999s"`, 0, false}, {`"+1s"`, 0, false},
	} {
		var d Duration
		err := json.Unmarshal([]byte(c.in), &d)
		if (err == nil) != c.ok || (c.ok && time.Duration(d) != c.want) {
			t.Errorf("%s: %v %v", c.in, time.Duration(d), err)
			continue
		}
		if c.ok {
			b, _ := json.Marshal(d)
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != d {
				t.Errorf("%s: round trip %s → %v %v", c.in, b, time.Duration(back), err)
			}
		}
	}
}

func TestParseCommandTopic(t *testing.T) {
	for topic, ok := range map[string]bool{
		"eu868/gateway/0102030405060708/command/down":   true,
		"eu868/gateway/0102030405060708/command/config": false,
		"eu868/gateway/01020304050607/command/down":     false,
		"/gateway/0102030405060708/command/down":        false,
		"eu868/gateway/zz02030405060708/command/down":   false,
		"a/eu868/gateway/0102030405060708/command/down": false,
	} {
		if _, _, err := parseCommandTopic(topic); (err == nil) != ok {
			t.Errorf("%s: %v", topic, err)
		}
	}
}

func FuzzDecodeDownlink(f *testing.F) {
	f.Add([]byte(`{"downlinkId":1,"items":[{"phyPayload":"YA==","txInfo":{"frequency":1,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":7}},"timing":{"delay":{"delay":"1s"}},"context":"AAAAAQ=="}}]}`))
	f.Add([]byte(`{"items":[]}`))
	hk, _ := identity.Generate()
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeDownlink(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		for _, it := range fr.Items {
			d, status, err := toDownlink(hk.Public(), it)
			if (err == nil) != (status == StatusOK) {
				t.Fatalf("status %s with err %v", status, err)
			}
			if err == nil && len(d.Payload) == 0 {
				t.Fatal("accepted empty payload")
			}
		}
	})
}
