// Package broker is hexnet's embedded MQTT broker (mochi-mqtt) with the
// network's authentication and topic rules.
//
// Every client logs in with username = its address and password = a signed
// timestamp (package token). Keys listed in Config.Services (router, PoC
// oracle, entropy oracle, ...) get full access. Every other valid key is a
// hotspot and may publish only its own state and txack and the partitioned
// up/{p} and poc/{p} topics, and subscribe only to its own down and config,
// the entropy topic and release/{channel} (or release/+). Everything else is
// refused and counted by reason.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/broker/token"
	"github.com/hexnet/hexnet/internal/identity"
)

// Defaults of Config.
const (
	DefaultAddr           = "127.0.0.1:1883"
	DefaultMaxClockSkew   = token.DefaultSkew
	DefaultMaxPacketSize  = 64 << 10
	DefaultSessionExpiry  = 24 * time.Hour
	DefaultConnectTimeout = 10 * time.Second
	DefaultWritesPending  = 1 << 10
	listenerID            = "hexnet"
	sysTopicResendSeconds = 30
)

// Sentinel errors.
var (
	ErrRunning = errors.New("broker: already running")
	ErrClosed  = errors.New("broker: closed")
)

// Config configures the broker. Zero fields take their defaults.
type Config struct {
	// Addr is the TCP address to listen on. Default 127.0.0.1:1883; use port 0 for any free port.
	Addr string `toml:"addr"`
	// TLSCert and TLSKey are PEM files; when both are set the listener speaks TLS (1.2+).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// Services are the addresses of network services, which get full access.
	Services []string `toml:"services"`
	// MaxClockSkew is how far a login token's timestamp may be from the broker clock. Default 5m.
	MaxClockSkew time.Duration `toml:"max_clock_skew"`
	// MaxPacketSize bounds an MQTT packet in bytes. Default 64 KiB (wire messages are at most 4 KiB).
	MaxPacketSize uint32 `toml:"max_packet_size"`
	// ConnectTimeout is how long a new connection may take to send CONNECT
	// (including the TLS handshake). Default 10s.
	ConnectTimeout time.Duration `toml:"connect_timeout"`
	// SessionExpiry is how long the session of a disconnected persistent client is kept. Default 24h.
	SessionExpiry time.Duration `toml:"session_expiry"`
	// WritesPending bounds the messages queued toward one client that it has
	// not yet read. Beyond it the broker drops the message for that client
	// (counted in hexnet_broker_dropped_total). Mochi allocates the queue
	// whole for every connection, 8 bytes a slot, and the garbage collector
	// scans it on every cycle: mochi's 8,192 is 64 KiB a connection, 64 MiB
	// for 1,000 hotspots, and doubled the GC's mark time in
	// BenchmarkRouterPaced. Hotspots receive a few messages a minute, and
	// hexnet's services read without blocking (their handlers hand each
	// message off), so their backlog lives in their own queues; 1,024 slots
	// and the socket buffers behind them absorb a service's pause of about
	// 100 ms at 10,000 messages/s. Default 1024.
	WritesPending int `toml:"writes_pending"`
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxClockSkew <= 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.SessionExpiry <= 0 {
		c.SessionExpiry = DefaultSessionExpiry
	}
	if c.WritesPending <= 0 {
		c.WritesPending = DefaultWritesPending
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("broker: tls_cert and tls_key must be set together")
	}
	for _, s := range c.Services {
		if _, err := identity.ParseAddress(s); err != nil {
			return fmt.Errorf("broker: service %q: %w", s, err)
		}
	}
	if c.MaxPacketSize != 0 && c.MaxPacketSize < 4096+512 {
		return fmt.Errorf("broker: max_packet_size %d cannot hold a 4 KiB wire message", c.MaxPacketSize)
	}
	return nil
}

// Deps are the broker's collaborators; all are optional.
type Deps struct {
	// Logger receives the broker's logs. Default slog.Default().
	Logger *slog.Logger
	// Registry receives the broker's metrics. Default: a private registry (nothing global).
	Registry prometheus.Registerer
	// Now is the clock login tokens are checked against. Default time.Now.
	Now func() time.Time
	// Hotspots, when set, reports whether a key may connect as a hotspot
	// (e.g. it is onboarded); when nil every valid key may.
	Hotspots func(identity.PublicKey) bool
}

// Refusal reasons, the values of the reason label of hexnet_broker_refused_total.
const (
	ReasonAnonymous      = "anonymous"
	ReasonBadUsername    = "bad_username"
	ReasonMalformed      = "malformed_token"
	ReasonStale          = "stale_token"
	ReasonBadSignature   = "bad_signature"
	ReasonUnknownHotspot = "unknown_hotspot"
	ReasonBadClientID    = "bad_client_id"
	ReasonBadWill        = "bad_will_topic"
)

var reasons = []string{ReasonAnonymous, ReasonBadUsername, ReasonMalformed, ReasonStale,
	ReasonBadSignature, ReasonUnknownHotspot, ReasonBadClientID, ReasonBadWill}

// Broker is the embedded MQTT broker.
type Broker struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	hotspots func(identity.PublicKey) bool
	services map[string]bool
	tls      *tls.Config

	refused   *prometheus.CounterVec
	aclDenied *prometheus.CounterVec
	dropped   *prometheus.CounterVec

	foreignSigner prometheus.Counter
	hotspotKeys   sync.Map // *mqtt.Client → identity.PublicKey of each connected hotspot

	mu      sync.Mutex
	srv     *mqtt.Server
	addr    string
	running bool
	closed  bool
	ready   chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// New checks cfg and builds a broker; it listens on nothing until Run.
func New(cfg Config, deps Deps) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Broker{
		cfg:      cfg,
		log:      deps.Logger,
		now:      deps.Now,
		hotspots: deps.Hotspots,
		services: map[string]bool{},
		ready:    make(chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("component", "broker")
	if b.now == nil {
		b.now = time.Now
	}
	for _, s := range cfg.Services {
		pk, _ := identity.ParseAddress(s) // checked by Validate
		b.services[string(pk.Address())] = true
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("broker: load tls key pair: %w", err)
		}
		b.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	b.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hexnet_broker_refused_total",
		Help: "MQTT connections refused, by reason.",
	}, []string{"reason"})
	b.aclDenied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hexnet_broker_acl_denied_total",
		Help: "Publishes and subscriptions refused by the topic rules, by action.",
	}, []string{"action"})
	for _, r := range reasons {
		b.refused.WithLabelValues(r)
	}
	b.aclDenied.WithLabelValues("publish")
	b.aclDenied.WithLabelValues("subscribe")
	b.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hexnet_broker_dropped_total",
		Help: "Messages the broker dropped for a subscriber whose queue of unread messages was full, by client kind (hotspot, service).",
	}, []string{"kind"})
	b.dropped.WithLabelValues("hotspot")
	b.dropped.WithLabelValues("service")
	clients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hexnet_broker_clients_connected",
		Help: "MQTT clients currently connected.",
	}, b.connected)
	b.foreignSigner = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hexnet_broker_foreign_signer_total",
		Help: "Uplinks and PoC reports a hotspot published in another hotspot's name, acknowledged and dropped.",
	})
	for _, c := range []prometheus.Collector{b.refused, b.aclDenied, b.dropped, b.foreignSigner, clients} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("broker: register metrics: %w", err)
		}
	}
	return b, nil
}

// Run listens on cfg.Addr and serves clients until ctx ends or Close is
// called. Ready is closed once the listener is bound.
func (b *Broker) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.running {
		b.mu.Unlock()
		return ErrRunning
	}
	b.running = true
	b.mu.Unlock()
	defer close(b.done)

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = b.cfg.MaxPacketSize
	caps.MaximumSessionExpiryInterval = uint32(b.cfg.SessionExpiry / time.Second)
	// MQTT 3.1.1 knows only 0x80 as a SUBACK failure; 0x87 is a v5 code.
	caps.Compatibilities.ObscureNotAuthorized = true
	// mochi drops QoS 1 messages for a subscriber with this many unacknowledged
	// in flight, after the publisher already had its PUBACK: keep the bound far
	// above what a network service can have outstanding.
	caps.MaximumInflight = 65535
	caps.MaximumClientWritesPending = int32(min(b.cfg.WritesPending, math.MaxInt32))
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 b.log,
		SysTopicResendInterval: sysTopicResendSeconds,
		// While a client has writes queued, mochi gathers them up to this
		// size before one write call (the buffer exists only while there is
		// a backlog): a busy subscriber costs a syscall per 16 KiB, not per
		// 2 KiB.
		ClientNetWriteBufferSize: 16 << 10,
	})
	if err := srv.AddHook(&authHook{b: b}, nil); err != nil {
		return fmt.Errorf("broker: add auth hook: %w", err)
	}
	l := &tcpListener{id: listenerID, addr: b.cfg.Addr, tls: b.tls, connectTimeout: b.cfg.ConnectTimeout,
		disconnect: func(id string) { disconnectListener(srv, id) }}
	if err := srv.AddListener(l); err != nil {
		return fmt.Errorf("broker: listen on %s: %w", b.cfg.Addr, err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return fmt.Errorf("broker: serve: %w", err)
	}
	b.mu.Lock()
	b.srv = srv
	b.addr = l.Address()
	b.mu.Unlock()
	close(b.ready)
	b.log.Info("broker listening", "addr", l.Address(), "tls", b.tls != nil, "services", len(b.services))

	select {
	case <-ctx.Done():
	case <-b.stop:
	}
	err := srv.Close()
	b.mu.Lock()
	b.srv = nil
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// disconnectListener sends a server-shutting-down DISCONNECT to every open
// client of the listener id. It lists clients with Clients.GetAll, which
// holds the clients' read lock once, never mochi's GetByListener (see
// tcpListener.Close).
func disconnectListener(srv *mqtt.Server, id string) {
	for _, cl := range srv.Clients.GetAll() {
		if cl.Net.Listener == id && !cl.Closed() {
			_ = srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// Ready is closed once Run has bound its listener; Addr is valid from then on.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Addr returns the bound listener address (host:port), or "" before Ready.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Close stops a running broker and waits for Run to return. It is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	running := b.running
	close(b.stop)
	b.mu.Unlock()
	if running {
		<-b.done
	}
	return nil
}

// connected reports the number of connected clients (for the gauge).
func (b *Broker) connected() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return 0
	}
	return float64(atomic.LoadInt64(&b.srv.Info.ClientsConnected))
}

// Token returns the raw login token of key at time now (see package token
// for its layout); clients send Password, its hex text, as the MQTT password.
func Token(key *identity.Key, now time.Time) []byte { return token.New(key, now) }

// Password returns the MQTT password of key at time now.
func Password(key *identity.Key, now time.Time) string { return token.Password(key, now) }

// isService reports whether an authenticated username belongs to a network service.
func (b *Broker) isService(username string) bool { return b.services[username] }

// refuse counts and logs a refused connection.
func (b *Broker) refuse(reason, clientID, remote string, err error) {
	b.refused.WithLabelValues(reason).Inc()
	args := []any{"reason", reason, "client_id", clientID, "remote_addr", remote}
	if err != nil {
		args = append(args, "error", err)
	}
	b.log.Info("mqtt connection refused", args...)
}

// reasonOf maps a token error onto a refusal reason.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, token.ErrBadUsername):
		return ReasonBadUsername
	case errors.Is(err, token.ErrStale):
		return ReasonStale
	case errors.Is(err, token.ErrBadSignature):
		return ReasonBadSignature
	default:
		return ReasonMalformed
	}
}

// hotspotClientID reports whether a hotspot may use clientID: its address,
// or its address followed by '-' and a suffix. This keeps a hotspot from
// taking over (and inheriting the subscriptions of) another client's session.
func hotspotClientID(addr, clientID string) bool {
	if clientID == addr {
		return true
	}
	rest, ok := strings.CutPrefix(clientID, addr+"-")
	return ok && rest != ""
}
