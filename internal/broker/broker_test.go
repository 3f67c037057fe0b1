package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker/token"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

const wait = 5 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testKey(t testing.TB, b byte) *identity.Key {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeClock is a settable clock for the broker.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.UnixMilli(c.t.Load()) }

type env struct {
	b       *Broker
	addr    string
	clock   *fakeClock
	reg     *prometheus.Registry
	service *identity.Key
}

func start(t *testing.T, mutate func(*Config, *Deps)) *env {
	t.Helper()
	e := &env{clock: &fakeClock{}, reg: prometheus.NewRegistry(), service: testKey(t, 100)}
	e.clock.t.Store(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC).UnixMilli())
	cfg := Config{Addr: "127.0.0.1:0", Services: []string{string(e.service.Address())}}
	deps := Deps{Logger: quiet(), Registry: e.reg, Now: e.clock.Now}
	if mutate != nil {
		mutate(&cfg, &deps)
	}
	b, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	select {
	case <-b.Ready():
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	case <-time.After(wait):
		t.Fatal("broker not ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v", err)
		}
		_ = b.Close()
	})
	e.b, e.addr = b, b.Addr()
	return e
}

// opts builds paho options logging in as key with a token at the broker's clock.
func (e *env) opts(key *identity.Key, clientID string) *paho.ClientOptions {
	o := paho.NewClientOptions().AddBroker("tcp://" + e.addr).SetClientID(clientID).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(wait).SetCleanSession(true)
	if key != nil {
		o.SetUsername(string(key.Address())).SetPassword(token.Password(key, e.clock.Now()))
	}
	return o
}

func connect(t *testing.T, o *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// connectErr tries to connect and returns the CONNACK return code and error.
func connectErr(t *testing.T, o *paho.ClientOptions) (byte, error) {
	t.Helper()
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		t.Fatal("connect timed out")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.(*paho.ConnectToken).ReturnCode(), tok.Error()
}

type msg struct {
	topic    string
	payload  string
	retained bool
}

// sink collects messages delivered to a subscription.
type sink struct {
	mu   sync.Mutex
	msgs []msg
	ch   chan msg
}

func newSink() *sink { return &sink{ch: make(chan msg, 100)} }

func (s *sink) handler(_ paho.Client, m paho.Message) {
	x := msg{m.Topic(), string(m.Payload()), m.Retained()}
	s.mu.Lock()
	s.msgs = append(s.msgs, x)
	s.mu.Unlock()
	s.ch <- x
}

func (s *sink) next(t *testing.T) msg {
	t.Helper()
	select {
	case m := <-s.ch:
		return m
	case <-time.After(wait):
		t.Fatal("no message")
		return msg{}
	}
}

// subscribe subscribes and returns the SUBACK code. Mochi shares one packet
// id space between a client's requests and the broker's deliveries, so a
// SUBSCRIBE whose id equals an unacknowledged delivery gets 0x91 "packet
// identifier in use"; paho picks another id on retry.
func subscribe(t *testing.T, c paho.Client, filter string, s *sink) byte {
	t.Helper()
	for range 10 {
		if code := subscribeOnce(t, c, filter, s); code != 0x91 {
			return code
		}
	}
	t.Fatalf("subscribe %s: packet id always in use", filter)
	return 0
}

func subscribeOnce(t *testing.T, c paho.Client, filter string, s *sink) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, s.handler)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	res := tok.(*paho.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("subscribe %s: results %v", filter, res)
	}
	for _, code := range res { // paho keys $share/{group}/ filters without the prefix
		return code
	}
	return 0
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, retained bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func refused(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	return counter(t, reg, "hexnet_broker_refused_total", reason)
}

// counter returns the value of counter name whose first label is label
// (label "" for a counter without labels), or -1 when there is none.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func TestHotspotPublishesOwnTopics(t *testing.T) {
	e := start(t, nil)
	svc := connect(t, e.opts(e.service, "router"))
	all := newSink()
	subscribe(t, svc, "hexnet/v1/#", all)

	hs := testKey(t, 1)
	addr := string(hs.Address())
	c := connect(t, e.opts(hs, addr))
	// Not retained: mochi may hand a subscriber both the live and the
	// retained copy of a retained publish (at-least-once; see the retained tests).
	publish(t, c, wire.StateTopic(addr), 1, false, "online")
	publish(t, c, wire.UpTopic(3), 1, false, "uplink")
	publish(t, c, wire.PoCTopic(15), 1, false, "beacon")
	publish(t, c, wire.TxAckTopic(addr), 1, false, "ack")
	want := []msg{
		{wire.StateTopic(addr), "online", false},
		{wire.UpTopic(3), "uplink", false},
		{wire.PoCTopic(15), "beacon", false},
		{wire.TxAckTopic(addr), "ack", false},
	}
	for _, w := range want {
		if got := all.next(t); got != w {
			t.Errorf("service got %+v, want %+v", got, w)
		}
	}
}

func TestHotspotRefusedPublishIsDropped(t *testing.T) {
	e := start(t, nil)
	svc := connect(t, e.opts(e.service, "router"))
	all := newSink()
	subscribe(t, svc, "hexnet/v1/#", all)

	hs, other := testKey(t, 1), testKey(t, 2)
	addr, otherAddr := string(hs.Address()), string(other.Address())
	c := connect(t, e.opts(hs, addr))

	// QoS 0: silently dropped, connection kept; the next allowed publish on
	// the same connection is the first thing the service sees.
	for _, topic := range []string{
		wire.StateTopic(otherAddr), wire.DownTopic(addr), wire.ConfigTopic(addr),
		wire.EntropyTopic, wire.ReleaseTopic("stable"), "hexnet/v1/up/16", "hexnet/v1/up/03", "other/topic",
	} {
		publish(t, c, topic, 0, false, "forged")
	}
	publish(t, c, wire.UpTopic(3), 0, false, "real")
	if got := all.next(t); got.payload != "real" {
		t.Fatalf("service received refused publish %+v", got)
	}

	// QoS 1 on MQTT 3.1.1: the broker drops the message and disconnects the client.
	lost := make(chan struct{})
	o := e.opts(hs, addr+"-b").SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	c2 := connect(t, o)
	c2.Publish(wire.StateTopic(otherAddr), 1, false, "forged")
	select {
	case <-lost:
	case <-time.After(wait):
		t.Fatal("client not disconnected after refused QoS 1 publish")
	}
	publish(t, c, wire.UpTopic(4), 1, false, "marker")
	if got := all.next(t); got.payload != "marker" {
		t.Fatalf("service received refused publish %+v", got)
	}
}

func TestHotspotSubscriptions(t *testing.T) {
	e := start(t, nil)
	hs, other := testKey(t, 1), testKey(t, 2)
	addr, otherAddr := string(hs.Address()), string(other.Address())
	c := connect(t, e.opts(hs, addr))
	tests := []struct {
		filter string
		ok     bool
	}{
		{wire.DownTopic(addr), true},
		{wire.ConfigTopic(addr), true},
		{wire.EntropyTopic, true},
		{wire.ReleaseTopic("stable"), true},
		{wire.ReleaseFilter, true},
		{wire.DownTopic(otherAddr), false},
		{wire.ConfigTopic(otherAddr), false},
		{wire.StateTopic(addr), false},
		{wire.UpTopic(3), false},
		{"hexnet/v1/hotspot/+/down", false},
		{"hexnet/v1/#", false},
		{"#", false},
		{"$SYS/#", false},
		{"$share/g/" + wire.DownTopic(addr), false},
		{"$share/g/" + wire.DownTopic(otherAddr), false},
		{"hexnet/v1/release/#", false},
	}
	for _, tc := range tests {
		code := subscribe(t, c, tc.filter, newSink())
		if ok := code < 0x80; ok != tc.ok {
			t.Errorf("subscribe %q: SUBACK code %#x, want ok=%v", tc.filter, code, tc.ok)
		}
		if !tc.ok && code != 0x80 {
			t.Errorf("subscribe %q: failure code %#x, want 0x80", tc.filter, code)
		}
	}
}

func TestServiceFullAccessAndRetained(t *testing.T) {
	e := start(t, nil)
	hs := testKey(t, 1)
	addr := string(hs.Address())
	svc := connect(t, e.opts(e.service, "poc-oracle"))

	// Retained messages published before the hotspot subscribes. Mochi
	// acknowledges a publish before fanning it out, so wait until the
	// service's own subscription has them: the fan-out is then done and the
	// hotspot gets the retained copies only.
	own := newSink()
	subscribe(t, svc, "hexnet/v1/#", own)
	publish(t, svc, wire.ConfigTopic(addr), 1, true, "region EU868")
	publish(t, svc, wire.EntropyTopic, 1, true, "entropy 1")
	publish(t, svc, wire.ReleaseTopic("beta"), 1, true, "v2")
	for range 3 {
		own.next(t)
	}

	c := connect(t, e.opts(hs, addr))
	s := newSink()
	subscribe(t, c, wire.ConfigTopic(addr), s)
	if got := s.next(t); got != (msg{wire.ConfigTopic(addr), "region EU868", true}) {
		t.Errorf("retained config = %+v", got)
	}
	subscribe(t, c, wire.ReleaseFilter, s)
	if got := s.next(t); got != (msg{wire.ReleaseTopic("beta"), "v2", true}) {
		t.Errorf("retained release = %+v", got)
	}
	subscribe(t, c, wire.DownTopic(addr), s)
	publish(t, svc, wire.DownTopic(addr), 1, false, "txpk")
	if got := s.next(t); got != (msg{wire.DownTopic(addr), "txpk", false}) {
		t.Errorf("down = %+v", got)
	}

	// A service may subscribe to wildcards and any hotspot's topics.
	for _, f := range []string{"#", "hexnet/v1/hotspot/+/down", wire.DownTopic(addr)} {
		if code := subscribe(t, svc, f, newSink()); code >= 0x80 {
			t.Errorf("service subscribe %q refused: %#x", f, code)
		}
	}
}

func TestConnectRefused(t *testing.T) {
	hs, wrong := testKey(t, 1), testKey(t, 2)
	addr := string(hs.Address())
	known := func(pk identity.PublicKey) bool { return pk != wrong.Public() }
	e := start(t, func(_ *Config, d *Deps) { d.Hotspots = known })
	tests := []struct {
		name   string
		opts   func() *paho.ClientOptions
		reason string
	}{
		{"anonymous", func() *paho.ClientOptions { return e.opts(nil, "anon") }, ReasonAnonymous},
		{"username not an address", func() *paho.ClientOptions {
			return e.opts(hs, addr).SetUsername("router")
		}, ReasonBadUsername},
		{"no password", func() *paho.ClientOptions { return e.opts(hs, addr).SetPassword("") }, ReasonMalformed},
		{"plain password", func() *paho.ClientOptions { return e.opts(hs, addr).SetPassword("hunter2") }, ReasonMalformed},
		{"token 6 min old", func() *paho.ClientOptions {
			return e.opts(hs, addr).SetPassword(token.Password(hs, e.clock.Now().Add(-6*time.Minute)))
		}, ReasonStale},
		{"token 6 min ahead", func() *paho.ClientOptions {
			return e.opts(hs, addr).SetPassword(token.Password(hs, e.clock.Now().Add(6*time.Minute)))
		}, ReasonStale},
		{"token of another key", func() *paho.ClientOptions {
			return e.opts(hs, addr).SetPassword(token.Password(testKey(t, 3), e.clock.Now()))
		}, ReasonBadSignature},
		{"unknown hotspot", func() *paho.ClientOptions { return e.opts(wrong, string(wrong.Address())) }, ReasonUnknownHotspot},
		{"client id of another", func() *paho.ClientOptions { return e.opts(hs, "router") }, ReasonBadClientID},
		{"empty client id", func() *paho.ClientOptions { return e.opts(hs, "") }, ReasonBadClientID},
		{"will on another's state", func() *paho.ClientOptions {
			return e.opts(hs, addr).SetWill(wire.StateTopic(string(wrong.Address())), "offline", 1, true)
		}, ReasonBadWill},
		{"will on a down topic", func() *paho.ClientOptions {
			return e.opts(hs, addr).SetWill(wire.DownTopic(addr), "x", 1, false)
		}, ReasonBadWill},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := refused(t, e.reg, tc.reason)
			code, err := connectErr(t, tc.opts())
			if err == nil {
				t.Fatal("connected")
			}
			// Mochi maps v5 "bad user name or password" to 3.1.1 code 5, not authorized.
			if code != 5 {
				t.Errorf("CONNACK code %d, want 5", code)
			}
			if after := refused(t, e.reg, tc.reason); after != before+1 {
				t.Errorf("refused{%s} went %v -> %v", tc.reason, before, after)
			}
		})
	}
	// Within the window the same clock skew is fine.
	o := e.opts(hs, addr+"-x").SetPassword(token.Password(hs, e.clock.Now().Add(-4*time.Minute)))
	if _, err := connectErr(t, o); err != nil {
		t.Errorf("token 4 min old refused: %v", err)
	}
}

func TestLastWillOnUncleanDisconnect(t *testing.T) {
	e := start(t, nil)
	svc := connect(t, e.opts(e.service, "router"))
	s := newSink()
	subscribe(t, svc, wire.StateFilter, s)

	hs := testKey(t, 1)
	addr := string(hs.Address())
	var conn atomic.Pointer[net.Conn]
	o := e.opts(hs, addr).SetWill(wire.StateTopic(addr), "offline", 1, true).
		SetCustomOpenConnectionFn(func(uri *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", uri.Host)
			if err == nil {
				conn.Store(&c)
			}
			return c, err
		})
	c := connect(t, o)
	// Not retained: a retained publish racing the subscription's retained
	// scan may legitimately arrive twice.
	publish(t, c, wire.StateTopic(addr), 1, false, "online")
	if got := s.next(t); got.payload != "online" {
		t.Fatalf("state = %+v", got)
	}
	// Drop the TCP connection without DISCONNECT.
	if err := (*conn.Load()).Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.next(t); got != (msg{wire.StateTopic(addr), "offline", false}) {
		t.Errorf("will = %+v", got)
	}
	// The will was retained: a later subscriber sees offline.
	late := newSink()
	subscribe(t, connect(t, e.opts(e.service, "maps")), wire.StateTopic(addr), late)
	if got := late.next(t); got != (msg{wire.StateTopic(addr), "offline", true}) {
		t.Errorf("retained will = %+v", got)
	}
}

func TestCleanDisconnectSendsNoWill(t *testing.T) {
	e := start(t, nil)
	svc := connect(t, e.opts(e.service, "router"))
	s := newSink()
	subscribe(t, svc, wire.StateFilter, s)
	hs := testKey(t, 1)
	addr := string(hs.Address())
	c := paho.NewClient(e.opts(hs, addr).SetWill(wire.StateTopic(addr), "offline", 1, false))
	if tok := c.Connect(); !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.Disconnect(100)
	// A marker from another client; the will would have come before it.
	hs2 := testKey(t, 2)
	publish(t, connect(t, e.opts(hs2, string(hs2.Address()))), wire.StateTopic(string(hs2.Address())), 1, false, "marker")
	if got := s.next(t); got.payload != "marker" {
		t.Errorf("got %+v before the marker", got)
	}
}

func TestLifecycle(t *testing.T) {
	b, err := New(Config{Addr: "127.0.0.1:0"}, Deps{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Addr() != "" {
		t.Errorf("Addr before Run = %q", b.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- b.Run(context.Background()) }()
	<-b.Ready()
	if err := b.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v", err)
	}
	// A connection that never sends CONNECT must not stall Close.
	silent, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", b.Addr(), err)
	}
	defer silent.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := b.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v", err)
	}
	// A busy address makes Run fail instead of hanging.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	b2, _ := New(Config{Addr: l.Addr().String()}, Deps{Logger: quiet()})
	if err := b2.Run(context.Background()); err == nil {
		t.Error("Run on a busy port succeeded")
	}
}

func TestSilentConnectionDropped(t *testing.T) {
	e := start(t, func(c *Config, _ *Deps) { c.ConnectTimeout = 100 * time.Millisecond })
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("silent connection read = %v, want EOF (closed by the broker)", err)
	}
}

func TestConfigValidate(t *testing.T) {
	svc := string(testKey(t, 9).Address())
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Services: []string{svc}}, true},
		{Config{Services: []string{"router"}}, false},
		{Config{TLSCert: "cert.pem"}, false},
		{Config{MaxPacketSize: 1024}, false},
	}
	for i, tc := range tests {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%d: Validate = %v, want ok=%v", i, err, tc.ok)
		}
	}
	// Metrics go to the given registry; registering twice on one registry fails.
	reg := prometheus.NewRegistry()
	if _, err := New(Config{}, Deps{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}, Deps{Registry: reg}); err == nil {
		t.Error("duplicate registration not reported")
	}
}

func TestACLRules(t *testing.T) {
	a := string(testKey(t, 1).Address())
	b := string(testKey(t, 2).Address())
	pub := []struct {
		topic string
		ok    bool
	}{
		{wire.StateTopic(a), true}, {wire.TxAckTopic(a), true}, {wire.UpTopic(0), true}, {wire.PoCTopic(15), true},
		{wire.StateTopic(b), false}, {wire.TxAckTopic(b), false}, {wire.DownTopic(a), false},
		{wire.ConfigTopic(a), false}, {wire.EntropyTopic, false}, {wire.ReleaseTopic("x"), false},
		{"hexnet/v1/up/+", false}, {"hexnet/v1/up/-1", false}, {"", false},
	}
	for _, tc := range pub {
		if got := hotspotMayPublish(a, tc.topic); got != tc.ok {
			t.Errorf("publish %q = %v, want %v", tc.topic, got, tc.ok)
		}
	}
	if hotspotMayPublish("", wire.UpTopic(1)) || hotspotMayRead("", wire.EntropyTopic) {
		t.Error("empty username allowed")
	}
}

func TestClientsGauge(t *testing.T) {
	e := start(t, nil)
	gauge := func() float64 {
		mfs, _ := e.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "hexnet_broker_clients_connected" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	if g := gauge(); g != 0 {
		t.Errorf("gauge before connects = %v", g)
	}
	connect(t, e.opts(e.service, "router"))
	hs := testKey(t, 1)
	connect(t, e.opts(hs, string(hs.Address())))
	if g := gauge(); g != 2 {
		t.Errorf("gauge with two clients = %v", g)
	}
}

// TestCloseWhileClientsLeave closes the broker while its clients disconnect.
// Each leaving clean-session client deletes itself from mochi's client map as
// the listener's Close lists the clients; a listing that takes the map's read
// lock twice deadlocks against that delete, and Close never returns.
func TestCloseWhileClientsLeave(t *testing.T) {
	const rounds, clients = 20, 32
	for round := range rounds {
		b, err := New(Config{Addr: "127.0.0.1:0"}, Deps{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- b.Run(context.Background()) }()
		<-b.Ready()
		var conns []net.Conn
		for i := range clients {
			c, err := net.Dial("tcp", b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			// An anonymous MQTT 3.1.1 CONNECT with a clean session.
			id := []byte(fmt.Sprintf("c%03d", i))
			body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, byte(len(id))}, id...)
			if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
				t.Fatal(err)
			}
			ack := make([]byte, 4)
			_ = c.SetReadDeadline(time.Now().Add(wait))
			if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 {
				t.Fatalf("round %d client %d: CONNACK %x, %v", round, i, ack, err)
			}
			conns = append(conns, c)
		}
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() { _, _ = c.Write([]byte{0xe0, 0}); _ = c.Close() }) // DISCONNECT
		}
		closed := make(chan error, 1)
		go func() { closed <- b.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("round %d: Close = %v", round, err)
			}
		case <-time.After(wait):
			t.Fatalf("round %d: Close did not return while clients left", round)
		}
		wg.Wait()
		if err := <-errc; err != nil {
			t.Fatalf("round %d: Run = %v", round, err)
		}
	}
}

// TestListenerCloseAvoidsMochiCloseFn pins the deadlock fix: the listener
// disconnects its clients through its own function, never through mochi's
// CloseFn (whose GetByListener read-locks the client map twice), and does so
// once however often Close is called.
func TestListenerCloseAvoidsMochiCloseFn(t *testing.T) {
	var got []string
	l := &tcpListener{id: "t1", addr: "127.0.0.1:0", connectTimeout: wait,
		disconnect: func(id string) { got = append(got, id) }}
	if err := l.Init(quiet()); err != nil {
		t.Fatal(err)
	}
	mochiFn := func(string) { t.Error("listener called mochi's CloseFn") }
	l.Close(mochiFn)
	l.Close(mochiFn)
	if len(got) != 1 || got[0] != "t1" {
		t.Errorf("disconnect calls = %q, want [t1]", got)
	}
}

// TestSlowSubscriberDropsAreCounted fills the queue of a service that
// subscribes and then stops reading: the broker drops what does not fit in
// WritesPending and counts it by client kind.
func TestSlowSubscriberDropsAreCounted(t *testing.T) {
	e := start(t, func(c *Config, _ *Deps) { c.WritesPending = 4 })
	// A raw MQTT 3.1.1 client logging in as the service, so that nothing
	// reads its socket after the SUBACK.
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 60} // username, password, clean session
	body = append(body, str("slow")...)
	body = append(body, str(string(e.service.Address()))...)
	body = append(body, str(token.Password(e.service, e.clock.Now()))...)
	pkt := []byte{0x10, byte(len(body)&0x7f | 0x80), byte(len(body) >> 7)}
	if _, err := conn.Write(append(pkt, body...)); err != nil {
		t.Fatal(err)
	}
	sub := append([]byte{0, 1}, str("hexnet/v1/#")...)
	sub = append(sub, 0)
	if _, err := conn.Write(append([]byte{0x82, byte(len(sub))}, sub...)); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4+5) // CONNACK, SUBACK
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 || ack[4] != 0x90 {
		t.Fatalf("CONNACK/SUBACK %x, %v", ack, err)
	}

	pub := connect(t, e.opts(e.service, "publisher"))
	payload := string(bytes.Repeat([]byte("x"), 32<<10))
	deadline := time.Now().Add(wait)
	for counter(t, e.reg, "hexnet_broker_dropped_total", "service") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no drop counted for a subscriber that never reads")
		}
		for range 64 { // 2 MiB a round, until the socket buffers are full
			pub.Publish(wire.EntropyTopic, 0, false, payload)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := counter(t, e.reg, "hexnet_broker_dropped_total", "hotspot"); n != 0 {
		t.Errorf("hotspot drops = %v, want 0", n)
	}
}

// TestHotspotSpeaksOnlyForItself: an uplink or PoC report a hotspot
// publishes in another hotspot's name is acknowledged and dropped, and
// counted; its own, and payloads naming no signer, pass.
func TestHotspotSpeaksOnlyForItself(t *testing.T) {
	e := start(t, nil)
	svc := connect(t, e.opts(e.service, "router"))
	all := newSink()
	subscribe(t, svc, "hexnet/v1/#", all)
	hs, other := testKey(t, 1), testKey(t, 2)
	c := connect(t, e.opts(hs, string(hs.Address())))

	up := func(k *identity.Key) string {
		p := &wire.PacketUp{Payload: []byte{0x40, 1, 2, 3, 4}, Frequency: 868_100_000}
		if err := k.Sign(p); err != nil {
			t.Fatal(err)
		}
		b, _ := wire.Marshal(p)
		return string(b)
	}
	witness := func(k *identity.Key) string {
		w := &wire.WitnessReport{Data: []byte{1, 2}, Frequency: 868_100_000}
		if err := k.Sign(w); err != nil {
			t.Fatal(err)
		}
		b, _ := wire.Marshal(&wire.PocReport{Report: &wire.PocReport_Witness{Witness: w}})
		return string(b)
	}
	publish(t, c, wire.UpTopic(1), 1, false, up(other))
	publish(t, c, wire.PoCTopic(1), 1, false, witness(other))
	for _, want := range []string{up(hs), witness(hs), "not a message"} {
		topic := wire.UpTopic(2)
		if want == witness(hs) {
			topic = wire.PoCTopic(2)
		}
		publish(t, c, topic, 1, false, want)
		if got := all.next(t); got.payload != want {
			t.Fatalf("service got %q, want the next allowed publish %q", got.payload, want)
		}
	}
	if n := counter(t, e.reg, "hexnet_broker_foreign_signer_total", ""); n != 2 {
		t.Errorf("foreign signer count %v, want 2", n)
	}
	// A service may publish anything in anyone's name (the router, tests).
	publish(t, svc, wire.UpTopic(3), 1, false, up(other))
	if got := all.next(t); got.payload != up(other) {
		t.Errorf("service's publish dropped")
	}
}
