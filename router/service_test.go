package router

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/chirpmqtt"
	"github.com/hexnet/hexnet/router/roaming"
	"github.com/hexnet/hexnet/router/routes"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startHexnetBroker runs the embedded broker with full access for services.
func startHexnetBroker(t testing.TB, services ...*identity.Key) string {
	t.Helper()
	var svc []string
	for _, k := range services {
		svc = append(svc, string(k.Address()))
	}
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Services: svc}, broker.Deps{Logger: quietLog()})
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

// allowAll lets every client connect and use every topic.
type allowAll struct{ mqtt.HookBase }

func (allowAll) ID() string { return "allow-all" }
func (allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// startPlainBroker runs an open mochi broker, standing in for an LNS's Mosquitto.
func startPlainBroker(t testing.TB) string {
	t.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: false, Logger: quietLog()})
	if err := s.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return "tcp://" + l.Address()
}

type mqttMsg struct {
	topic   string
	payload []byte
}

// TestServiceChirpStack assembles the Service against the embedded broker:
// a hotspot publishes a signed PacketUp, the router buys it and delivers it
// to a ChirpStack-style LNS over MQTT, the LNS answers with command/down,
// and the hotspot receives a PacketDown signed by the router; the LNS gets
// an OK ack. The route admin API is served by AdminHandler.
func TestServiceChirpStack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	routerK, _ := identity.Generate()
	hk, _ := identity.Generate()
	hexURL := startHexnetBroker(t, routerK)
	lnsURL := startPlainBroker(t)

	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cli, err := mqttc.Dial(ctx, mqttc.Config{URL: hexURL, Key: routerK, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	svc, err := NewService(ServiceConfig{}, ServiceDeps{Store: db.Prefix("router/"), Key: routerK,
		Hotspots: fakeHotspots{hk.Public(): true}, MQTT: cli, Registry: prometheus.NewRegistry(), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if svc.LNSHandler() != nil || svc.RoamingHandler() != nil {
		t.Fatal("disabled parts expose handlers")
	}
	rt := routes.Route{ID: "cs", OUI: 7, Payer: "maker", MaxCopies: 1, Active: true,
		DevAddrRanges: []routes.DevAddrRange{{Start: 0x48000000, End: 0x480000ff}},
		Destinations:  []routes.Destination{{Protocol: routes.ProtocolChirpStackMQTT, Address: lnsURL, Region: "eu868"}}}
	if err := svc.Routes().Put(rt); err != nil {
		t.Fatal(err)
	}
	if err := svc.DCStore().Credit("maker", 100); err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(ctx) }()

	lnsMsgs := make(chan mqttMsg, 16)
	lnsCli, err := mqttc.Dial(ctx, mqttc.Config{URL: lnsURL, ClientID: "chirpstack", Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer lnsCli.Close()
	if err := lnsCli.Subscribe("eu868/gateway/+/event/+", 0, func(topic string, p []byte) { lnsMsgs <- mqttMsg{topic, p} }); err != nil {
		t.Fatal(err)
	}
	downs := make(chan mqttMsg, 4)
	hsCli, err := mqttc.Dial(ctx, mqttc.Config{URL: hexURL, Key: hk, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer hsCli.Close()
	if err := hsCli.Subscribe(wire.DownTopic(string(hk.Address())), 1, func(topic string, p []byte) { downs <- mqttMsg{topic, p} }); err != nil {
		t.Fatal(err)
	}

	phy := dataFrame(t, 1, 8)
	topic, b := up(t, hk, phy, -70, 7_000_000)
	// The service subscribes in Run; publish until the LNS sees the uplink.
	var m mqttMsg
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		if err := hsCli.Publish(ctx, topic, 1, false, b); err != nil {
			t.Fatal(err)
		}
		select {
		case m = <-lnsMsgs:
			break wait
		case <-tick.C:
		case <-deadline:
			t.Fatal("LNS never received the uplink")
		}
	}
	gw := chirpmqtt.GatewayID(hk.Public())
	var f chirpmqtt.UplinkFrame
	if err := json.Unmarshal(m.payload, &f); err != nil || m.topic != "eu868/gateway/"+gw+"/event/up" || string(f.PHYPayload) != string(phy) {
		t.Fatalf("uplink %s on %s: %v", m.payload, m.topic, err)
	}
	ctxB64 := base64.StdEncoding.EncodeToString(f.RxInfo.Context)
	dl := []byte{0x60, 0x10, 0, 0, 0x48, 0, 1, 0, 0, 0, 0, 0}
	cmd := `{"downlinkId":99,"gatewayId":"` + gw + `","items":[{"phyPayload":"` + base64.StdEncoding.EncodeToString(dl) +
		`","txInfo":{"frequency":868100000,"power":14,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":7,"codeRate":"CR_4_5"}},"timing":{"delay":{"delay":"1s"}},"context":"` + ctxB64 + `"}}]}`
	if err := lnsCli.Publish(ctx, "eu868/gateway/"+gw+"/command/down", 0, false, []byte(cmd)); err != nil {
		t.Fatal(err)
	}
	var d mqttMsg
	select {
	case d = <-downs:
	case <-time.After(10 * time.Second):
		t.Fatal("no PacketDown at the hotspot")
	}
	pd := new(wire.PacketDown)
	if err := wire.Unmarshal(d.payload, pd); err != nil {
		t.Fatal(err)
	}
	if err := identity.Verify(pd, routerK.Public()); err != nil {
		t.Fatalf("PacketDown not signed by the router: %v", err)
	}
	if string(pd.Payload) != string(dl) || pd.Rx1 == nil || pd.Rx1.Tmst != 8_000_000 || pd.Rx1.Frequency != 868_100_000 ||
		pd.Rx1.DataRate != "SF7BW125" || pd.Rx2 == nil || pd.Rx2.Tmst != 9_000_000 {
		t.Fatalf("PacketDown %v", pd)
	}
	// No ack before the hotspot reports on the transmission.
	select {
	case m = <-lnsMsgs:
		if m.topic == "eu868/gateway/"+gw+"/event/ack" {
			t.Fatalf("ack before the hotspot's TxAck: %s", m.payload)
		}
	case <-time.After(300 * time.Millisecond):
	}
	// The hotspot's signed TxAck (too late for its window) becomes the ack.
	txa := &wire.TxAck{Id: pd.Id, Status: wire.TxStatus_TX_TOO_LATE, Window: 1, ReportedAtMs: uint64(time.Now().UnixMilli())}
	if err := hk.Sign(txa); err != nil {
		t.Fatal(err)
	}
	tb, err := wire.Marshal(txa)
	if err != nil {
		t.Fatal(err)
	}
	if err := hsCli.Publish(ctx, wire.TxAckTopic(string(hk.Address())), 1, false, tb); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m = <-lnsMsgs:
		case <-time.After(10 * time.Second):
			t.Fatal("no ack")
		}
		if m.topic == "eu868/gateway/"+gw+"/event/ack" {
			break
		}
	}
	var ack chirpmqtt.DownlinkTxAck
	if err := json.Unmarshal(m.payload, &ack); err != nil || ack.DownlinkID != 99 || ack.Items[0].Status != chirpmqtt.StatusTooLate {
		t.Fatalf("ack %s, want TOO_LATE", m.payload)
	}
	if got := svc.DCStore().Balance("maker"); got != 99 {
		t.Fatalf("balance %d, want 99 (one copy charged once despite republishing)", got)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if err := svc.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestServiceConfigValidate(t *testing.T) {
	for name, c := range map[string]ServiceConfig{
		"bad router":      {Router: Config{Workers: 1000}},
		"bad qos":         {ChirpStack: ChirpStackConfig{QoS: 2}},
		"bad roaming":     {Roaming: roamingCfg("xyz")},
		"negative gwmp":   {GWMP: GWMPConfig{MaxGateways: -1}},
		"negative timout": {PublishTimeout: -time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (ServiceConfig{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	if _, err := NewService(ServiceConfig{}, ServiceDeps{}); err == nil {
		t.Fatal("missing deps accepted")
	}
}

func roamingCfg(netID string) (c roaming.Config) { c.NetID = netID; return c }
