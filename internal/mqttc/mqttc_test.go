package mqttc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

const waitFor = 10 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testKey(t testing.TB, b byte) *identity.Key {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type clock struct{ ms atomic.Int64 }

func (c *clock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// runBroker starts an embedded broker on addr and returns its address and a stop func.
func runBroker(t *testing.T, addr string, now func() time.Time, services ...*identity.Key) (string, func()) {
	t.Helper()
	var svc []string
	for _, k := range services {
		svc = append(svc, string(k.Address()))
	}
	b, err := broker.New(broker.Config{Addr: addr, Services: svc}, broker.Deps{Logger: quiet(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	select {
	case <-b.Ready():
	case err := <-errc:
		t.Fatalf("broker: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-errc
		}
	}
	t.Cleanup(stop)
	return b.Addr(), stop
}

// nowClock is a test clock at the current time.
func nowClock() *clock {
	c := &clock{}
	c.ms.Store(time.Now().UnixMilli())
	return c
}

// serviceNet starts a broker that knows one service key (10) and returns
// the clock, the service and hotspot (1) keys and the broker URL.
func serviceNet(t *testing.T) (clk *clock, svcKey, hsKey *identity.Key, url string) {
	t.Helper()
	clk = nowClock()
	svcKey, hsKey = testKey(t, 10), testKey(t, 1)
	addr, _ := runBroker(t, "127.0.0.1:0", clk.Now, svcKey)
	return clk, svcKey, hsKey, "tcp://" + addr
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type message struct{ topic, payload string }

func collector() (Handler, chan message) {
	ch := make(chan message, 64)
	return func(topic string, payload []byte) { ch <- message{topic, string(payload)} }, ch
}

func next(t *testing.T, ch chan message) message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatal("no message")
		return message{}
	}
}

func TestPublishSubscribeWithKey(t *testing.T) {
	clk, svcKey, hsKey, url := serviceNet(t)

	svc := dial(t, Config{URL: url, ClientID: "router", Key: svcKey, Now: clk.Now, CleanSession: true})
	hs := dial(t, Config{URL: url, Key: hsKey, Now: clk.Now, CleanSession: true})

	h, ups := collector()
	if err := svc.Subscribe(wire.UpFilter, 1, h); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := hs.Publish(ctx, wire.UpTopic(7), 1, false, []byte("uplink")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ups); got != (message{wire.UpTopic(7), "uplink"}) {
		t.Errorf("got %+v", got)
	}

	// The broker's topic rules reach the caller as ErrRefused.
	hsAddr := string(hsKey.Address())
	other := string(testKey(t, 2).Address())
	if err := hs.Subscribe(wire.DownTopic(other), 1, h); !errors.Is(err, ErrRefused) {
		t.Errorf("subscribe to another's down = %v, want ErrRefused", err)
	}
	dh, downs := collector()
	if err := hs.Subscribe(wire.DownTopic(hsAddr), 1, dh); err != nil {
		t.Fatal(err)
	}
	if err := svc.Publish(ctx, wire.DownTopic(hsAddr), 1, false, []byte("txpk")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, downs); got.payload != "txpk" {
		t.Errorf("down = %+v", got)
	}
}

// A broker restart forces a reconnect: the client must log in with a fresh
// token (the clock moved past the old one's window) and resubscribe.
func TestReconnectRefreshesTokenAndResubscribes(t *testing.T) {
	clk := nowClock()
	svcKey, hsKey := testKey(t, 10), testKey(t, 1)
	addr, stop := runBroker(t, "127.0.0.1:0", clk.Now, svcKey)
	url := "tcp://" + addr

	connects := make(chan struct{}, 8)
	svc := dial(t, Config{URL: url, ClientID: "router", Key: svcKey, Now: clk.Now, CleanSession: true,
		MaxReconnectInterval: 200 * time.Millisecond,
		OnConnect:            func(*Client) { connects <- struct{}{} }})
	<-connects // the first connect
	h, ups := collector()
	if err := svc.Subscribe(wire.UpFilter, 1, h); err != nil {
		t.Fatal(err)
	}

	stop()
	clk.Advance(10 * time.Minute)
	runBroker(t, addr, clk.Now, svcKey)
	select {
	case <-connects:
	case <-time.After(waitFor):
		t.Fatal("no reconnect")
	}
	hs := dial(t, Config{URL: url, Key: hsKey, Now: clk.Now, CleanSession: true})
	if err := hs.Publish(context.Background(), wire.UpTopic(1), 1, false, []byte("after restart")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ups); got.payload != "after restart" {
		t.Errorf("got %+v", got)
	}
}

func TestDialErrors(t *testing.T) {
	clk := nowClock()
	addr, _ := runBroker(t, "127.0.0.1:0", clk.Now)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"bad scheme", Config{URL: "http://" + addr, ClientID: "x"}},
		{"no host", Config{URL: "tcp://", ClientID: "x"}},
		{"unparsable", Config{URL: "tcp://[::1", ClientID: "x"}},
		{"no client id", Config{URL: "tcp://" + addr}},
		{"will without topic", Config{URL: "tcp://" + addr, ClientID: "x", Will: &Will{QoS: 1}}},
		{"anonymous refused", Config{URL: "tcp://" + addr, ClientID: "x"}},
		{"plain password refused", Config{URL: "tcp://" + addr, ClientID: "x", Username: "u", Password: "p"}},
		{"stale clock", Config{URL: "tcp://" + addr, Key: testKey(t, 1),
			Now: func() time.Time { return clk.Now().Add(-time.Hour) }}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet()
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			c, err := Dial(ctx, tc.cfg)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded")
			}
		})
	}
	// Nobody listening: the first attempt's error comes back.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := Dial(ctx, Config{URL: "tcp://127.0.0.1:1", ClientID: "x", Logger: quiet()}); err == nil {
		t.Error("Dial to a closed port succeeded")
	}
}

func TestWillAndClose(t *testing.T) {
	clk, svcKey, hsKey, url := serviceNet(t)
	hsAddr := string(hsKey.Address())

	svc := dial(t, Config{URL: url, ClientID: "router", Key: svcKey, Now: clk.Now, CleanSession: true})
	h, states := collector()
	if err := svc.Subscribe(wire.StateFilter, 1, h); err != nil {
		t.Fatal(err)
	}
	hs := dial(t, Config{URL: url, Key: hsKey, Now: clk.Now,
		Will: &Will{Topic: wire.StateTopic(hsAddr), Payload: []byte("offline"), QoS: 1}})
	if err := hs.Publish(context.Background(), wire.StateTopic(hsAddr), 1, false, []byte("online")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, states); got.payload != "online" {
		t.Fatalf("got %+v", got)
	}
	if err := hs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hs.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := hs.Publish(context.Background(), wire.UpTopic(1), 1, false, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v", err)
	}
	if err := hs.Subscribe(wire.EntropyTopic, 1, h); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close = %v", err)
	}
	// A clean disconnect sends no will: a marker published afterwards arrives first.
	if err := svc.Publish(context.Background(), wire.StateTopic("marker"), 1, false, []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, states); got.payload != "marker" {
		t.Errorf("got %+v before the marker", got)
	}
}

func TestPublishHonoursContext(t *testing.T) {
	clk := nowClock()
	svcKey := testKey(t, 10)
	addr, stop := runBroker(t, "127.0.0.1:0", clk.Now, svcKey)
	c := dial(t, Config{URL: "tcp://" + addr, ClientID: "router", Key: svcKey, Now: clk.Now, CleanSession: true})
	stop() // no broker: a QoS 1 publish cannot be acknowledged
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Publish(ctx, wire.UpTopic(1), 1, false, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with cancelled ctx = %v", err)
	}
}

// With a persistent session, QoS 1 messages published while the subscriber
// was away reach it on its next Dial, through Config.Subscriptions.
func TestPersistentSessionQueuesQoS1(t *testing.T) {
	clk, svcKey, hsKey, url := serviceNet(t)
	h, ups := collector()
	cfg := Config{URL: url, ClientID: "router", Key: svcKey, Now: clk.Now,
		Subscriptions: []Subscription{{Filter: wire.UpFilter, QoS: 1, Handler: h}}}
	sub := dial(t, cfg)
	hs := dial(t, Config{URL: url, Key: hsKey, Now: clk.Now, CleanSession: true})
	ctx := context.Background()
	if err := hs.Publish(ctx, wire.UpTopic(2), 1, false, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ups); got.payload != "first" {
		t.Fatalf("got %+v", got)
	}
	_ = sub.Close()
	if err := hs.Publish(ctx, wire.UpTopic(2), 1, false, []byte("while away")); err != nil {
		t.Fatal(err)
	}
	dial(t, cfg)
	// The handler saw "first" before paho sent its PUBACK; when Close wins
	// that race the broker redelivers it, as QoS 1 (at least once) allows.
	got := next(t, ups)
	if got.payload == "first" {
		got = next(t, ups)
	}
	if got.payload != "while away" {
		t.Errorf("got %+v", got)
	}
}

// TestSubscribeAckRedelivers: a message whose AckHandler fails is not
// acknowledged; on a persistent session the client reconnects and the
// broker delivers it again, also when the redelivery is refused right after
// the reconnect (the next drop waits for its second), and once the handler
// accepts it, it stays acknowledged (no further delivery). On a clean
// session the refusal is acknowledged and the message not redelivered.
func TestSubscribeAckRedelivers(t *testing.T) {
	clk, svcKey, hsKey, url := serviceNet(t)
	hs := dial(t, Config{URL: url, Key: hsKey, Now: clk.Now, CleanSession: true})
	ctx := context.Background()

	for _, clean := range []bool{false, true} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			sub := dial(t, Config{URL: url, ClientID: fmt.Sprintf("oracle-%v", clean), Key: svcKey, Now: clk.Now,
				CleanSession: clean, MaxReconnectInterval: time.Second})
			var calls atomic.Int64
			got := make(chan string, 8)
			err := sub.SubscribeAck(wire.UpFilter, 1, func(_ string, p []byte) error {
				got <- string(p)
				if calls.Add(1) <= 2 {
					return errors.New("store full")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			payload := fmt.Sprintf("report clean=%v", clean)
			if err := hs.Publish(ctx, wire.UpTopic(3), 1, false, []byte(payload)); err != nil {
				t.Fatal(err)
			}
			want, refused := 3, int64(2)
			if clean {
				want, refused = 1, 1
			}
			for i := range want {
				select {
				case p := <-got:
					if p != payload {
						t.Fatalf("delivery %d: %q", i, p)
					}
				case <-time.After(waitFor):
					t.Fatalf("delivery %d of %d missing", i+1, want)
				}
			}
			select {
			case p := <-got:
				t.Fatalf("extra delivery %q", p)
			case <-time.After(1500 * time.Millisecond):
			}
			if sub.Refused() != refused {
				t.Errorf("refused %d", sub.Refused())
			}
			_ = sub.Unsubscribe(wire.UpFilter)
		})
	}
}

func TestMatchFilter(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a", false},
		{"a/+/c", "a/b/c", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "/b", true},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{wire.UpFilter, wire.UpTopic(7), true},
		{wire.UpFilter, wire.PoCTopic(7), false},
	} {
		if got := matchFilter(c.filter, c.topic); got != c.want {
			t.Errorf("matchFilter(%q, %q) = %v", c.filter, c.topic, got)
		}
	}
}

// TestSubscribeDeferredRedelivers: a message never acknowledged comes again
// to the next connection of a persistent session, even though the broker
// sends it before that connection's Subscribe (it waits for its handler);
// an acknowledged one does not, and an ack called twice counts once.
func TestSubscribeDeferredRedelivers(t *testing.T) {
	clk, svcKey, hsKey, url := serviceNet(t)
	hs := dial(t, Config{URL: url, Key: hsKey, Now: clk.Now, CleanSession: true})
	ctx := context.Background()
	type delivery struct {
		payload string
		ack     func()
	}
	connect := func() (*Client, chan delivery) {
		c := dial(t, Config{URL: url, ClientID: "router-deferred", Key: svcKey, Now: clk.Now, Concurrent: true})
		// The broker resends unacknowledged messages right after CONNACK:
		// subscribing late makes them arrive before their handler.
		time.Sleep(300 * time.Millisecond)
		got := make(chan delivery, 8)
		if err := c.SubscribeDeferred(wire.UpFilter, 1, func(_ string, p []byte, ack func()) {
			got <- delivery{string(p), ack}
		}); err != nil {
			t.Fatal(err)
		}
		return c, got
	}
	next := func(got chan delivery, what string) delivery {
		t.Helper()
		select {
		case d := <-got:
			return d
		case <-time.After(waitFor):
			t.Fatalf("%s: no delivery", what)
		}
		return delivery{}
	}
	none := func(got chan delivery, what string) {
		t.Helper()
		select {
		case d := <-got:
			t.Fatalf("%s: unexpected delivery %q", what, d.payload)
		case <-time.After(1500 * time.Millisecond):
		}
	}

	c1, got1 := connect()
	for _, p := range []string{"one", "two"} {
		if err := hs.Publish(ctx, wire.UpTopic(1), 1, false, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]func(){}
	for range 2 {
		d := next(got1, "first connection")
		seen[d.payload] = d.ack
	}
	seen["one"]()
	seen["one"]()
	time.Sleep(200 * time.Millisecond) // let the PUBACK reach the broker before the disconnect
	_ = c1.Close()

	c2, got2 := connect()
	d := next(got2, "second connection")
	if d.payload != "two" {
		t.Fatalf("redelivered %q, want the unacknowledged \"two\"", d.payload)
	}
	none(got2, "second connection")
	d.ack()
	time.Sleep(200 * time.Millisecond)
	_ = c2.Close()

	_, got3 := connect()
	none(got3, "third connection")
}
