package hotspot_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/beacon"
	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/gwmp/gwmptest"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// network is the network side of these tests: the embedded broker and a
// service client that sees every topic.
type network struct {
	t                     *testing.T
	addr                  string
	service               *identity.Key
	router, entropy, conf *identity.Key
	broker                *broker.Broker
	refuseHotspots        atomic.Bool // hold hotspots off until the test's subscribers are in place
	cancel                context.CancelFunc
	done                  chan struct{}
}

func key(t *testing.T, seed byte) *identity.Key {
	k, err := identity.FromSeed(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func startNetwork(t *testing.T, addr string) *network {
	n := &network{t: t, addr: addr, service: key(t, 200), router: key(t, 201), entropy: key(t, 202), conf: key(t, 203)}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *network) start() {
	b, err := broker.New(broker.Config{Addr: n.addr, Services: []string{
		string(n.service.Address()), string(n.router.Address()), string(n.entropy.Address()), string(n.conf.Address()),
	}}, broker.Deps{Logger: quiet, Hotspots: func(identity.PublicKey) bool { return !n.refuseHotspots.Load() }})
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.broker, n.cancel, n.done = b, cancel, make(chan struct{})
	go func() { defer close(n.done); b.Run(ctx) }()
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		n.t.Fatal("broker not ready")
	}
	n.addr = b.Addr()
}

func (n *network) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func (n *network) url() string { return "tcp://" + n.addr }

// client connects a network service.
func (n *network) client(k *identity.Key) *mqttc.Client {
	c, err := mqttc.Dial(context.Background(), mqttc.Config{URL: n.url(), Key: k, CleanSession: true, Logger: quiet, MaxReconnectInterval: 200 * time.Millisecond})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { c.Close() })
	return c
}

// collector gathers messages of one filter.
type collector struct {
	mu   sync.Mutex
	msgs [][]byte
	ch   chan []byte
}

func collect(t *testing.T, c *mqttc.Client, filter string) *collector {
	col := &collector{ch: make(chan []byte, 1000)}
	if err := c.Subscribe(filter, 1, func(_ string, p []byte) {
		col.mu.Lock()
		col.msgs = append(col.msgs, p)
		col.mu.Unlock()
		select {
		case col.ch <- p:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	return col
}

func (c *collector) next(t *testing.T, timeout time.Duration) []byte {
	t.Helper()
	select {
	case p := <-c.ch:
		return p
	case <-time.After(timeout):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

type agentRig struct {
	agent *hotspot.Agent
	key   *identity.Key
	fwd   *gwmptest.Forwarder
	stop  func()
}

func startAgent(t *testing.T, n *network, k *identity.Key, dir string, mut func(*hotspot.Config), txAck func(int, *gwmp.PullResp) gwmp.TxError) *agentRig {
	cfg := hotspot.DefaultConfig()
	cfg.KeyFile = "unused"
	cfg.DataDir = dir
	cfg.Broker.URL = n.url()
	cfg.Broker.MaxReconnectDelay = 200 * time.Millisecond
	cfg.Forward.Listen = "127.0.0.1:0"
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Network.Router = string(n.router.Address())
	cfg.Network.Entropy = string(n.entropy.Address())
	cfg.Network.Config = string(n.conf.Address())
	cfg.PoC.Disabled = true
	if mut != nil {
		mut(&cfg)
	}
	dial, err := hotspot.MQTTDialer(cfg.Broker, quiet)
	if err != nil {
		t.Fatal(err)
	}
	a, err := hotspot.New(cfg, "1.0.0-test", hotspot.Deps{Key: k, Dial: dial, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("agent: %v", err)
	}
	fwd, err := gwmptest.New(gwmptest.Config{Server: a.ForwarderAddr(), GatewayEUI: gwmp.EUI{1, 2, 3, 4, 5, 6, 7, 8}, KeepAlive: 200 * time.Millisecond, TxAckError: txAck})
	if err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithCancel(context.Background())
	go fwd.Run(fctx)
	r := &agentRig{agent: a, key: k, fwd: fwd}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			fcancel()
			fwd.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent run: %v", err)
			}
			a.Close()
		})
	}
	t.Cleanup(r.stop)
	return r
}

func waitConnected(t *testing.T, a *hotspot.Agent) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !a.Status().BrokerConnected {
		if time.Now().After(deadline) {
			t.Fatal("agent did not connect to the broker")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rxpk(t *testing.T, data []byte, crc int8) gwmp.RXPK {
	dr, err := gwmp.LoRaDataRate(7, 125)
	if err != nil {
		t.Fatal(err)
	}
	r := gwmp.RXPK{Tmst: 123456, Stat: crc, Modu: gwmp.ModulationLoRa, DatR: dr, CodR: "4/5", RSSI: -87, LSNR: 6.5}
	r.SetFreqHz(868100000)
	r.SetData(data)
	return r
}

func TestUplinkBecomesSignedPacketUp(t *testing.T) {
	n := startNetwork(t, "127.0.0.1:0")
	svc := n.client(n.service)
	ups := collect(t, svc, wire.UpFilter)
	hk := key(t, 1)
	r := startAgent(t, n, hk, t.TempDir(), nil, nil)
	frame := []byte{0x40, 4, 3, 2, 1, 0x80, 1, 0, 1, 0xa6, 0x94, 0x64, 0x26, 0x15, 0xd6, 0xc3, 0xb5, 0x82}
	if _, err := r.fwd.Push(context.Background(), []gwmp.RXPK{rxpk(t, frame, gwmp.CRCOK), rxpk(t, []byte{1, 2, 3}, gwmp.CRCBad)}, nil); err != nil {
		t.Fatal(err)
	}
	var up wire.PacketUp
	if err := wire.Unmarshal(ups.next(t, 10*time.Second), &up); err != nil {
		t.Fatal(err)
	}
	pk, err := identity.VerifySigned(&up)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	if pk != hk.Public() || !bytes.Equal(up.Payload, frame) || up.Frequency != 868100000 || up.DataRate != "SF7BW125" || up.Rssi != -87 || up.Tmst != 123456 {
		t.Fatalf("packet up %v", &up)
	}
	// The bad-CRC frame was counted and dropped, and the status endpoint says so.
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Get("http://" + r.agent.StatusAddr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"address", "name", "region", "version", "forwarder_connected", "broker_connected", "uplinks_received",
		"uplinks_forwarded", "queue_depth", "beacons_sent", "witnesses_sent", "last_beacon_at", "malformed_datagrams"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status lacks %q", k)
		}
	}
	if st["uplinks_received"].(float64) != 2 || st["uplinks_forwarded"].(float64) != 1 || st["uplinks_bad_crc"].(float64) != 1 ||
		st["address"] != string(hk.Address()) || st["broker_connected"] != true || st["forwarder_connected"] != true {
		t.Fatalf("status %v", st)
	}
	// Malformed datagrams are counted, not fatal.
	for _, b := range [][]byte{{1}, {9, 0, 0, 0}, {2, 0, 0, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, '{'}, {2, 0, 0, 0x42}} {
		r.fwd.SendUp(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.agent.Status().MalformedDatagrams < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("malformed count %d, want 4", r.agent.Status().MalformedDatagrams)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func signedDown(t *testing.T, router *identity.Key, hotspotKey identity.PublicKey, id byte) []byte {
	pd := &wire.PacketDown{
		Id:      []byte{id},
		Payload: []byte{0x60, 1, 2, 3, 4, 0, 0, 0, 1, 2, 3, 4},
		Rx1:     &wire.Window{Tmst: 1123456, Frequency: 868100000, DataRate: "SF7BW125"},
		Rx2:     &wire.Window{Tmst: 2123456, Frequency: 869525000, DataRate: "SF12BW125"},
		Hotspot: hotspotKey.Bytes(),
	}
	if err := router.Sign(pd); err != nil {
		t.Fatal(err)
	}
	b, err := wire.Marshal(pd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownlinkRX1RefusedFallsBackToRX2(t *testing.T) {
	n := startNetwork(t, "127.0.0.1:0")
	hk := key(t, 2)
	r := startAgent(t, n, hk, t.TempDir(), nil, func(i int, _ *gwmp.PullResp) gwmp.TxError {
		if i == 0 {
			return gwmp.TxErrorTooLate
		}
		return ""
	})
	rc := n.client(n.router)
	acks := collect(t, rc, wire.TxAckFilter)
	// Wait until the forwarder has pulled and the agent is connected (its
	// subscriptions are in place then), then send a forged downlink (ignored)
	// and a real one.
	if err := r.fwd.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, r.agent)
	forger := key(t, 99)
	fc := n.client(n.service)
	fc.Publish(context.Background(), wire.DownTopic(string(hk.Address())), 1, false, signedDown(t, forger, hk.Public(), 1))
	if err := rc.Publish(context.Background(), wire.DownTopic(string(hk.Address())), 1, false, signedDown(t, n.router, hk.Public(), 2)); err != nil {
		t.Fatal(err)
	}
	var got []gwmptest.Downlink
	for len(got) < 2 {
		select {
		case d := <-r.fwd.Downlinks():
			got = append(got, d)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d downlinks, want 2", len(got))
		}
	}
	if *got[0].Resp.TXPK.Tmst != 1123456 || got[0].Resp.TXPK.FreqHz() != 868100000 || !got[0].Resp.TXPK.IPol {
		t.Fatalf("rx1 txpk %+v", got[0].Resp.TXPK)
	}
	if *got[1].Resp.TXPK.Tmst != 2123456 || got[1].Resp.TXPK.FreqHz() != 869525000 || got[1].Resp.TXPK.DatR.SF() != 12 {
		t.Fatalf("rx2 txpk %+v", got[1].Resp.TXPK)
	}
	var ack wire.TxAck
	if err := wire.Unmarshal(acks.next(t, 10*time.Second), &ack); err != nil {
		t.Fatal(err)
	}
	if pk, err := identity.VerifySigned(&ack); err != nil || pk != hk.Public() {
		t.Fatalf("tx ack signature: %v", err)
	}
	if ack.Status != wire.TxStatus_TX_OK || ack.Window != 2 || !bytes.Equal(ack.Id, []byte{2}) {
		t.Fatalf("tx ack %v", &ack)
	}
	select {
	case d := <-r.fwd.Downlinks():
		t.Fatalf("forged downlink transmitted: %+v", d)
	case <-time.After(300 * time.Millisecond):
	}
	if r.agent.Status().DownlinksRejected != 1 {
		t.Fatalf("rejected downlinks %d, want 1", r.agent.Status().DownlinksRejected)
	}
}

func publishRetained(t *testing.T, c *mqttc.Client, k *identity.Key, topic string, m proto.Message) {
	t.Helper()
	if err := k.Sign(m); err != nil {
		t.Fatal(err)
	}
	b, err := wire.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(context.Background(), topic, 1, true, b); err != nil {
		t.Fatal(err)
	}
}

func TestBeaconIsWitnessedByAnotherAgent(t *testing.T) {
	n := startNetwork(t, "127.0.0.1:0")
	svc := n.client(n.service)
	poc := collect(t, svc, wire.PoCFilter)
	ka, kb := key(t, 3), key(t, 4)
	for _, k := range []*identity.Key{ka, kb} {
		publishRetained(t, n.client(n.conf), n.conf, wire.ConfigTopic(string(k.Address())),
			&wire.RegionParams{Region: wire.Region_EU868, AntennaGainDbiX10: 30, Hotspot: k.Public().Bytes()})
	}
	ent := &wire.Entropy{Data: bytes.Repeat([]byte{5}, 32), Timestamp: time.Now().Unix()}
	publishRetained(t, n.client(n.entropy), n.entropy, wire.EntropyTopic, ent)

	a := startAgent(t, n, ka, t.TempDir(), func(c *hotspot.Config) { c.PoC.Disabled = false; c.PoC.BeaconInterval = 2 * time.Second }, nil)
	b := startAgent(t, n, kb, t.TempDir(), nil, nil)
	var d gwmptest.Downlink
	select {
	case d = <-a.fwd.Downlinks():
	case <-time.After(15 * time.Second):
		t.Fatal("no beacon transmitted")
	}
	tx := d.Resp.TXPK
	payload, err := beacon.PayloadFromFrame(tx.Data)
	if err != nil || !tx.Imme || tx.IPol || tx.DatR.SF() != 12 || tx.Powe != 13 {
		t.Fatalf("beacon txpk %+v: %v", tx, err)
	}
	var rep wire.PocReport
	if err := wire.Unmarshal(poc.next(t, 10*time.Second), &rep); err != nil {
		t.Fatal(err)
	}
	br := rep.GetBeacon()
	if br == nil {
		t.Fatalf("expected a beacon report, got %v", &rep)
	}
	if pk, err := identity.VerifySigned(br); err != nil || pk != ka.Public() {
		t.Fatalf("beacon report signature: %v", err)
	}
	rebuilt, err := beacon.Build(br.Entropy, br.EntropyTimestamp, br.LocalEntropy, br.Region, 30)
	if err != nil || !bytes.Equal(rebuilt.Payload, payload) || rebuilt.Frequency != tx.FreqHz() || rebuilt.Frequency != br.Frequency {
		t.Fatalf("beacon does not regenerate: %v", err)
	}
	// B's forwarder hears A's beacon.
	heard := rxpk(t, tx.Data, gwmp.CRCOK)
	heard.SetFreqHz(tx.FreqHz())
	heard.DatR = tx.DatR
	heard.RSSI = -104
	if _, err := b.fwd.Push(context.Background(), []gwmp.RXPK{heard}, nil); err != nil {
		t.Fatal(err)
	}
	for {
		var rep wire.PocReport
		if err := wire.Unmarshal(poc.next(t, 10*time.Second), &rep); err != nil {
			t.Fatal(err)
		}
		w := rep.GetWitness()
		if w == nil {
			continue // A's later beacons
		}
		if pk, err := identity.VerifySigned(w); err != nil || pk != kb.Public() {
			t.Fatalf("witness signature: %v", err)
		}
		if !bytes.Equal(w.Data, payload) || w.Rssi != -104 || w.Frequency != tx.FreqHz() || w.Region != wire.Region_EU868 {
			t.Fatalf("witness %v", w)
		}
		return
	}
}

func uplinkFrame(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprint(i)))
	return append([]byte{0x40}, h[:20]...)
}

// Broker down → reports queue on disk → agent restarted mid-queue → broker
// up → everything delivered once, in order.
func TestStoreAndForwardAcrossOutageAndRestart(t *testing.T) {
	n := startNetwork(t, "127.0.0.1:0")
	hk := key(t, 5)
	dir := t.TempDir()
	r := startAgent(t, n, hk, dir, nil, nil)
	if err := r.fwd.Pull(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.stop() // the network goes away
	const total = 30
	for i := 0; i < 20; i++ {
		if _, err := r.fwd.Push(context.Background(), []gwmp.RXPK{rxpk(t, uplinkFrame(i), gwmp.CRCOK)}, nil); err != nil {
			t.Fatalf("push %d not acknowledged during outage: %v", i, err)
		}
	}
	if q := r.agent.Status().QueueDepth; q != 20 {
		t.Fatalf("queue depth %d, want 20", q)
	}
	r.stop() // the agent is killed with 20 reports queued
	r = startAgent(t, n, hk, dir, nil, nil)
	for i := 20; i < total; i++ {
		if _, err := r.fwd.Push(context.Background(), []gwmp.RXPK{rxpk(t, uplinkFrame(i), gwmp.CRCOK)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	n.refuseHotspots.Store(true)
	n.start() // the network comes back on the same address
	svc := n.client(n.service)
	ups := collect(t, svc, wire.UpFilter)
	n.refuseHotspots.Store(false)
	for i := 0; i < total; i++ {
		var up wire.PacketUp
		if err := wire.Unmarshal(ups.next(t, 20*time.Second), &up); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(up.Payload, uplinkFrame(i)) {
			t.Fatalf("report %d out of order or wrong", i)
		}
	}
	select {
	case extra := <-ups.ch:
		t.Fatalf("delivered more than once: %x", extra)
	case <-time.After(500 * time.Millisecond):
	}
	if q := r.agent.Status().QueueDepth; q != 0 {
		t.Fatalf("queue depth %d after drain", q)
	}
}
