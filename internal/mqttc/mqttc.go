// Package mqttc is the MQTT client of hexnet's network services and hotspot
// agent: a small wrapper over paho that connects by URL to the embedded
// broker or an external one (Mosquitto, EMQX), logs in with a hexnet key
// (a fresh signed token on every connect) or a plain password, reconnects
// with backoff and restores its subscriptions after every reconnect.
//
// Message handlers run one at a time, in arrival order, on paho's router
// goroutine (each on its own goroutine with Config.Concurrent): a handler
// must not block (no network calls, no waiting on a full channel); hand the
// message off to a bounded queue and count drops. A QoS 1 message is
// acknowledged when its handler returns. An AckHandler (SubscribeAck) may
// refuse the acknowledgement by returning an error: the client then drops
// the connection and reconnects, and the broker sends the message again,
// when the session is persistent (CleanSession false). A DeferredHandler
// (SubscribeDeferred) acknowledges later, when the work is done. On a
// resumed persistent session, messages that arrive before their Subscribe
// wait for it (onEarly).
//
// The package is free of cgo: the hotspot agent uses it.
package mqttc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/hexnet/hexnet/internal/broker/token"
	"github.com/hexnet/hexnet/internal/identity"
)

// Defaults of Config.
const (
	DefaultConnectTimeout       = 10 * time.Second
	DefaultKeepAlive            = 30 * time.Second
	DefaultMaxReconnectInterval = time.Minute
)

// Sentinel errors.
var (
	ErrClosed  = errors.New("mqttc: client closed")
	ErrRefused = errors.New("mqttc: subscription refused by the broker")
	ErrConfig  = errors.New("mqttc: bad config")
	// errRedeliver breaks a connection whose message a handler refused.
	errRedeliver = errors.New("mqttc: reconnecting for a refused message's redelivery")
)

// schemes are the URL schemes Dial accepts (paho dials them all).
var schemes = map[string]bool{
	"tcp": true, "mqtt": true, "ssl": true, "tls": true, "mqtts": true, "ws": true, "wss": true,
}

// Will is the message the broker publishes when the client vanishes without DISCONNECT.
type Will struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// Config configures a client.
type Config struct {
	// URL of the broker: tcp:// or mqtt:// (plain), ssl://, tls:// or mqtts://
	// (TLS), ws:// or wss:// (MQTT over WebSocket), e.g. "tcp://127.0.0.1:1883".
	URL string
	// ClientID identifies the session; default the key's address when Key is set.
	// The embedded broker requires a hotspot's client id to be its address,
	// or its address followed by '-' and a suffix.
	ClientID string
	// Username and Password are plain credentials for external brokers; ignored when Key is set.
	Username string
	Password string
	// Key logs in with username = its address and password = a signed
	// timestamp token (package broker/token), made afresh on every (re)connect.
	Key *identity.Key
	// TLS configures TLS for ssl/tls/mqtts/wss URLs; nil uses the system roots.
	TLS *tls.Config
	// CleanSession discards the broker-side session on connect. The default,
	// false, keeps it: QoS 1 messages sent while the client was away are
	// delivered after it reconnects (this needs a stable, unique ClientID).
	CleanSession bool
	// Will, when set, is registered with the broker on every connect.
	Will *Will
	// ConnectTimeout bounds a connection attempt and Subscribe. Default 10s.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keepalive. Default 30s.
	KeepAlive time.Duration
	// MaxReconnectInterval caps the exponential reconnect backoff (which starts at 1s). Default 1 min.
	MaxReconnectInterval time.Duration
	// Subscriptions are made on every connect, starting with the first. Their
	// handlers are in place before the first CONNECT, so messages the broker
	// kept for a persistent session (CleanSession false) are not lost.
	Subscriptions []Subscription
	// OnConnect is called (on its own goroutine) after every connect and
	// reconnect, once the subscriptions are restored.
	OnConnect func(*Client)
	// OnConnectionLost is called (on its own goroutine) when the connection drops.
	OnConnectionLost func(error)
	// Concurrent runs each message's handler on its own goroutine instead of
	// one at a time in arrival order, so a handler may block (e.g. on a
	// synced store write that batches with other messages). The QoS 1
	// acknowledgement still follows the handler's return. Default false.
	Concurrent bool
	// Logger receives connection events. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock login tokens are made with. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" && c.Key != nil {
		c.ClientID = string(c.Key.Address())
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.MaxReconnectInterval <= 0 {
		c.MaxReconnectInterval = DefaultMaxReconnectInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("%w: url %q: %w", ErrConfig, c.URL, err)
	}
	if !schemes[u.Scheme] {
		return fmt.Errorf("%w: url %q: scheme %q not one of tcp, mqtt, ssl, tls, mqtts, ws, wss", ErrConfig, c.URL, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: url %q has no host", ErrConfig, c.URL)
	}
	if c.ClientID == "" && c.Key == nil {
		return fmt.Errorf("%w: client id required without a key", ErrConfig)
	}
	if c.Will != nil && (c.Will.Topic == "" || c.Will.QoS > 2) {
		return fmt.Errorf("%w: will needs a topic and a QoS of 0, 1 or 2", ErrConfig)
	}
	for _, s := range c.Subscriptions {
		if s.Filter == "" || s.QoS > 2 || s.Handler == nil {
			return fmt.Errorf("%w: subscription %q needs a filter, a QoS of 0, 1 or 2 and a handler", ErrConfig, s.Filter)
		}
	}
	return nil
}

// Handler receives a message's topic and payload; the payload is the
// handler's to keep.
type Handler func(topic string, payload []byte)

// AckHandler is a Handler that decides the QoS 1 acknowledgement: nil
// acknowledges the message; an error leaves it unacknowledged, for the
// broker to deliver again (see SubscribeAck).
type AckHandler func(topic string, payload []byte) error

// DeferredHandler is a Handler that acknowledges a QoS 1 message later, from
// any goroutine, by calling ack (the first call counts; later ones do
// nothing). A message never acknowledged stays with the broker, which sends
// it again after a reconnect on a persistent session (see
// SubscribeDeferred). An ack called after the connection it came on was
// lost is dropped: the broker sends that message again anyway.
type DeferredHandler func(topic string, payload []byte, ack func())

// Subscription is a topic filter with its QoS and handler.
type Subscription struct {
	Filter  string
	QoS     byte
	Handler Handler
}

type subscription struct {
	qos     byte
	handler paho.MessageHandler
	pending bool // to be (re)subscribed on the next connect
}

// route adapts a Handler to paho: the message is acknowledged once h returns.
func route(h Handler) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) {
		h(m.Topic(), m.Payload())
		m.Ack()
	}
}

// routeAck adapts an AckHandler to paho. A refused message stays
// unacknowledged and the connection is dropped, so that the broker sends it
// again on the resumed session; with a clean session the broker would drop
// it at the reconnect, so it is acknowledged (and logged) as before.
func (c *Client) routeAck(h AckHandler) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) {
		err := h(m.Topic(), m.Payload())
		if err == nil || m.Qos() == 0 {
			m.Ack()
			return
		}
		c.refused.Add(1)
		if c.cfg.CleanSession {
			c.log.Error("mqtt message refused on a clean session: acknowledged, not redelivered", "topic", m.Topic(), "error", err)
			m.Ack()
			return
		}
		c.log.Warn("mqtt message refused: reconnecting for redelivery", "topic", m.Topic(), "error", err)
		c.dropConnection()
	}
}

// dropConnection breaks the current connection: its reads fail, paho
// reports the connection lost and reconnects with its backoff. (Paho takes
// a read error of a connection closed locally for its own disconnect, and
// would not reconnect.) Drops are at least a second apart: one asked for
// sooner, such as for a redelivered message refused again, happens when
// the second is up, so that no refused message stays unacknowledged on a
// live connection.
func (c *Client) dropConnection() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.dropPending {
		return
	}
	if wait := time.Second - time.Since(c.dropped); wait > 0 {
		c.dropPending = true
		time.AfterFunc(wait, func() {
			c.mu.Lock()
			c.dropPending = false
			c.mu.Unlock()
			c.dropConnection()
		})
		return
	}
	conn := c.conn
	if conn == nil {
		return // already broken: its unacknowledged messages come again after the reconnect
	}
	c.dropped = time.Now()
	c.conn = nil
	if bc, ok := conn.(*bufferedConn); ok {
		bc.fail(errRedeliver)
		return
	}
	_ = conn.Close() // WebSocket: paho notices on its next keepalive
}

// Client is a connected MQTT client; it reconnects by itself until Close.
type Client struct {
	cfg Config
	pc  paho.Client
	log *slog.Logger

	mu          sync.Mutex
	subs        map[string]subscription
	closed      bool
	conn        net.Conn  // the current connection, for dropConnection
	dropped     time.Time // last dropConnection
	dropPending bool      // a dropConnection waits for its second
	refused     atomic.Int64
	// early holds QoS 1 messages that arrived before any handler of their
	// topic was registered (see onEarly), unacknowledged.
	early []paho.Message

	firstConnect chan struct{} // closed once the first connection's subscriptions are made
	firstOnce    sync.Once
}

// Dial connects to the broker of cfg.URL and returns once the broker accepted
// the connection, or with the error of the first attempt (or ctx's).
// Later connection losses are repaired in the background.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, subs: map[string]subscription{}, firstConnect: make(chan struct{})}
	c.log = cfg.Logger.With("component", "mqttc", "client_id", cfg.ClientID)

	o := paho.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4).
		SetCleanSession(cfg.CleanSession).
		SetOrderMatters(!cfg.Concurrent).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetWriteTimeout(cfg.ConnectTimeout).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(cfg.ConnectTimeout).
		SetAutoReconnect(true).
		SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
			conn, err := OpenConnection(u, o)
			if err == nil {
				c.mu.Lock()
				c.conn = conn
				c.mu.Unlock()
			}
			return conn, err
		}).
		// Handlers acknowledge (route, routeAck).
		SetAutoAckDisabled(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(cfg.MaxReconnectInterval).
		SetOnConnectHandler(func(paho.Client) { c.onConnect() }).
		// Called synchronously before every reconnect attempt, so always
		// before the OnConnect of that connection.
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) { c.markPending() }).
		SetDefaultPublishHandler(c.onEarly).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.log.Warn("mqtt connection lost", "error", err)
			c.mu.Lock()
			c.early = nil // the broker sends them again on the next connection
			c.mu.Unlock()
			if cfg.OnConnectionLost != nil {
				cfg.OnConnectionLost(err)
			}
		})
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	if cfg.Key != nil {
		key, now := cfg.Key, cfg.Now
		user := string(key.Address())
		o.SetCredentialsProvider(func() (string, string) {
			return user, token.Password(key, now())
		})
	} else if cfg.Username != "" || cfg.Password != "" {
		o.SetUsername(cfg.Username).SetPassword(cfg.Password)
	}
	if w := cfg.Will; w != nil {
		o.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retained)
	}
	c.pc = paho.NewClient(o)
	for _, sub := range cfg.Subscriptions {
		cb := route(sub.Handler)
		c.subs[sub.Filter] = subscription{qos: sub.QoS, handler: cb, pending: true}
		c.pc.AddRoute(sub.Filter, cb)
	}
	if err := wait(ctx, c.pc.Connect()); err != nil {
		c.pc.Disconnect(0)
		return nil, fmt.Errorf("mqttc: connect %s: %w", cfg.URL, err)
	}
	// Return only once Config.Subscriptions are in place on the broker, so a
	// message published right after Dial returns is not missed.
	select {
	case <-c.firstConnect:
	case <-ctx.Done():
		c.pc.Disconnect(0)
		return nil, fmt.Errorf("mqttc: connect %s: %w", cfg.URL, ctx.Err())
	}
	return c, nil
}

// wait waits for a paho token or ctx.
func wait(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// markPending marks every subscription for renewal on the next connect.
func (c *Client) markPending() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f, s := range c.subs {
		s.pending = true
		c.subs[f] = s
	}
}

// onConnect restores the subscriptions the broker may have lost and calls
// the user's callback. Only pending ones are renewed: a Subscribe made on
// this very connection must not be repeated (each SUBSCRIBE makes the broker
// send its retained messages again).
func (c *Client) onConnect() {
	c.mu.Lock()
	subs := map[string]subscription{}
	for f, s := range c.subs {
		if s.pending {
			s.pending = false
			c.subs[f] = s
			subs[f] = s
		}
	}
	c.mu.Unlock()
	c.log.Info("mqtt connected", "url", c.cfg.URL, "resubscribed", len(subs))
	for f, s := range subs {
		if err := c.subscribe(f, s); err != nil {
			c.log.Error("mqtt resubscribe failed", "topic", f, "error", err)
		}
	}
	c.firstOnce.Do(func() { close(c.firstConnect) })
	if c.cfg.OnConnect != nil {
		c.cfg.OnConnect(c)
	}
}

// Connected reports whether the client is connected right now.
func (c *Client) Connected() bool { return c.pc.IsConnectionOpen() }

// Publish sends payload to topic and, for QoS 1 and 2, waits for the broker's
// acknowledgement or ctx. While disconnected, QoS 1/2 messages wait in
// memory and go out after the reconnect.
func (c *Client) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	if c.isClosed() {
		return ErrClosed
	}
	if err := wait(ctx, c.pc.Publish(topic, qos, retained, payload)); err != nil {
		return fmt.Errorf("mqttc: publish %s: %w", topic, err)
	}
	return nil
}

// Subscribe subscribes to filter and routes its messages to h, now and
// after every reconnect. It fails with ErrRefused when the broker refuses
// the filter; after another error (not connected, timeout) the subscription
// is kept and made on the next reconnect. See the package doc: h must not block.
func (c *Client) Subscribe(filter string, qos byte, h Handler) error {
	return c.subscribeRoute(filter, qos, route(h))
}

// SubscribeAck is Subscribe with an AckHandler: a QoS 1 message whose
// handler returns an error is not acknowledged; the client drops the
// connection (at most once a second) and reconnects, and the broker sends
// the message again. Redelivery needs a persistent session (CleanSession
// false); on a clean session the refusal is logged and the message
// acknowledged. Refusals are counted (Refused).
func (c *Client) SubscribeAck(filter string, qos byte, h AckHandler) error {
	return c.subscribeRoute(filter, qos, c.routeAck(h))
}

// SubscribeDeferred is Subscribe with a DeferredHandler: the message is
// acknowledged when the handler calls ack, not when it returns. With a
// persistent session (CleanSession false), messages not yet acknowledged
// when the client stops or the connection drops are delivered again.
func (c *Client) SubscribeDeferred(filter string, qos byte, h DeferredHandler) error {
	return c.subscribeRoute(filter, qos, func(_ paho.Client, m paho.Message) {
		h(m.Topic(), m.Payload(), m.Ack)
	})
}

// maxEarly bounds the messages onEarly holds.
const maxEarly = 4096

// onEarly receives the messages paho has no handler for. On a resumed
// persistent session the broker sends the messages the last connection left
// unacknowledged as soon as the client connects, before the caller's
// Subscribe: they wait here, unacknowledged, for the Subscribe whose filter
// matches, which hands them to its handler. Past maxEarly, or for a QoS 0
// message, a message is dropped from memory (a QoS 1 one stays with the
// broker until the next connection). A clean session holds nothing: its
// messages without a handler are for filters just unsubscribed.
func (c *Client) onEarly(pc paho.Client, m paho.Message) {
	c.mu.Lock()
	for f, s := range c.subs { // a Subscribe raced paho's route lookup
		if matchFilter(f, m.Topic()) {
			c.mu.Unlock()
			s.handler(pc, m)
			return
		}
	}
	if m.Qos() == 0 || c.closed || c.cfg.CleanSession {
		c.mu.Unlock()
		return
	}
	if len(c.early) >= maxEarly {
		c.mu.Unlock()
		c.log.Warn("mqtt message before its subscription: not held, left to the broker", "topic", m.Topic())
		return
	}
	c.early = append(c.early, m)
	c.mu.Unlock()
}

// matchFilter tells whether an MQTT topic filter (with + and #) matches a
// topic name. A topic starting with $ matches no filter starting with a
// wildcard.
func matchFilter(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return !fmore
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// Refused returns how many messages an AckHandler refused.
func (c *Client) Refused() int64 { return c.refused.Load() }

func (c *Client) subscribeRoute(filter string, qos byte, cb paho.MessageHandler) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	s := subscription{qos: qos, handler: cb}
	c.subs[filter] = s
	var ready []paho.Message
	kept := c.early[:0]
	for _, m := range c.early {
		if matchFilter(filter, m.Topic()) {
			ready = append(ready, m)
		} else {
			kept = append(kept, m)
		}
	}
	c.early = kept
	c.mu.Unlock()
	if len(ready) > 0 {
		go func() {
			for _, m := range ready {
				cb(c.pc, m)
			}
		}()
	}
	if err := c.subscribe(filter, s); err != nil {
		c.mu.Lock()
		if errors.Is(err, ErrRefused) {
			delete(c.subs, filter)
		} else if cur, ok := c.subs[filter]; ok {
			cur.pending = true // retried on the next connect
			c.subs[filter] = cur
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

// Unsubscribe drops a subscription.
func (c *Client) Unsubscribe(filter string) error {
	c.mu.Lock()
	delete(c.subs, filter)
	c.mu.Unlock()
	t := c.pc.Unsubscribe(filter)
	if !t.WaitTimeout(c.cfg.ConnectTimeout) {
		return fmt.Errorf("mqttc: unsubscribe %s: timed out", filter)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("mqttc: unsubscribe %s: %w", filter, err)
	}
	return nil
}

// subscribe sends one SUBSCRIBE and checks the SUBACK. Mochi shares one
// packet id space between a client's requests and its own deliveries and
// answers 0x91 "packet identifier in use" on a clash; paho takes a new id on retry.
func (c *Client) subscribe(filter string, s subscription) error {
	cb := s.handler
	for range 5 {
		t := c.pc.Subscribe(filter, s.qos, cb)
		if !t.WaitTimeout(c.cfg.ConnectTimeout) {
			return fmt.Errorf("mqttc: subscribe %s: timed out", filter)
		}
		if err := t.Error(); err != nil {
			return fmt.Errorf("mqttc: subscribe %s: %w", filter, err)
		}
		var code byte
		for _, v := range t.(*paho.SubscribeToken).Result() {
			code = v
		}
		switch {
		case code == 0x91:
			continue
		case code >= 0x80:
			return fmt.Errorf("%w: %s (code %#x)", ErrRefused, filter, code)
		}
		return nil
	}
	return fmt.Errorf("mqttc: subscribe %s: packet identifier kept clashing", filter)
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close disconnects cleanly (the broker then drops the will) and stops reconnecting.
// A second Close returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.pc.Disconnect(250)
	return nil
}
