package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/chirpmqtt"
	"github.com/hexnet/hexnet/router/dc"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/gwmpfwd"
	"github.com/hexnet/hexnet/router/lns"
	"github.com/hexnet/hexnet/router/roaming"
	"github.com/hexnet/hexnet/router/routes"
)

// ServiceConfig configures the router as assembled for `hexnet serve`. The
// zero value of every field takes its default.
type ServiceConfig struct {
	// Router tunes the pipeline (see Config for each default).
	Router Config `toml:"router"`
	// GWMP tunes Semtech UDP destinations.
	GWMP GWMPConfig `toml:"gwmp"`
	// ChirpStack tunes chirpstack_mqtt destinations.
	ChirpStack ChirpStackConfig `toml:"chirpstack"`
	// Roaming configures http_roaming destinations; without NetID those
	// destinations fail to dial (and back off) and RoamingHandler is nil.
	Roaming roaming.Config `toml:"roaming"`
	// LNSEnabled runs the basic LNS (router/lns) in the process. Default false.
	LNSEnabled bool `toml:"lns_enabled"`
	// LNS configures the basic LNS (defaults in router/lns: listen
	// 127.0.0.1:1700, EU868, DevAddr base 48000000, ...). A route sends to
	// it with a gwmp destination whose address is LNS.Listen.
	LNS lns.Config `toml:"lns"`
	// AdminToken, when set, is the bearer token of the route admin and LNS
	// device APIs. Default empty (no authentication: mount them on a
	// private listener).
	AdminToken string `toml:"admin_token"`
	// PublishTimeout bounds each MQTT publish of a PacketDown or an LNS
	// uplink. Default 5 s.
	PublishTimeout time.Duration `toml:"publish_timeout"`
}

// GWMPConfig tunes Semtech UDP delivery (router/gwmpfwd).
type GWMPConfig struct {
	// KeepaliveInterval between PULL_DATA of each virtual gateway. Default 10 s.
	KeepaliveInterval time.Duration `toml:"keepalive_interval"`
	// IdleTimeout closes a virtual gateway without uplinks. Default 5 min.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// MaxGateways bounds the virtual gateways (UDP sockets) per destination. Default 10000.
	MaxGateways int `toml:"max_gateways"`
}

// ChirpStackConfig tunes ChirpStack MQTT delivery (router/chirpmqtt).
type ChirpStackConfig struct {
	// QoS of events and of the command subscription (0 or 1). Default 0.
	QoS byte `toml:"qos"`
	// Timeout bounds connecting and each publish. Default 5 s.
	Timeout time.Duration `toml:"timeout"`
}

// DefaultPublishTimeout is the default of ServiceConfig.PublishTimeout.
const DefaultPublishTimeout = 5 * time.Second

// WithDefaults returns c with its zero fields set to their defaults.
func (c ServiceConfig) WithDefaults() ServiceConfig {
	c.Router = c.Router.WithDefaults()
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.ChirpStack.Timeout == 0 {
		c.ChirpStack.Timeout = chirpmqtt.DefaultTimeout
	}
	return c
}

// Validate checks the configuration.
func (c ServiceConfig) Validate() error {
	if err := c.Router.Validate(); err != nil {
		return err
	}
	d := c.WithDefaults()
	switch {
	case d.PublishTimeout < 0 || d.ChirpStack.Timeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrConfig)
	case d.ChirpStack.QoS > 1:
		return fmt.Errorf("%w: chirpstack qos %d (0 or 1)", ErrConfig, d.ChirpStack.QoS)
	case d.GWMP.KeepaliveInterval < 0 || d.GWMP.IdleTimeout < 0 || d.GWMP.MaxGateways < 0:
		return fmt.Errorf("%w: negative gwmp setting", ErrConfig)
	}
	if d.Roaming.NetID != "" {
		if err := d.Roaming.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}

// ServiceDeps are the Service's collaborators. Store, Key, Hotspots and
// MQTT are required.
type ServiceDeps struct {
	// Store is the router's space (e.g. db.Prefix("router/")): routes live
	// under "routes/", the built-in ledger (when DC is nil) under "dc/",
	// the basic LNS's devices under "lns/".
	Store *store.Space
	// Key is the router's key: it signs PacketDowns and logs in to the broker
	// (the broker must list its address in Services).
	Key *identity.Key
	// Hotspots tells onboarded hotspots (the ledger).
	Hotspots Hotspots
	// DC is the data-credit ledger, which also records data transfer per
	// hotspot and epoch; nil uses dc.Store over Store ("dc/").
	DC dc.Ledger
	// MQTT is the network's MQTT client, logged in with Key: Run subscribes
	// wire.UpFilter and wire.TxAckFilter on it and publishes PacketDowns
	// (and the basic LNS's uplinks) with it. Uplinks are acknowledged once
	// handled (Router.HandleDeferred): give the client a persistent session
	// (CleanSession false) so that those a stopped router had not finished
	// come again.
	MQTT *mqttc.Client
	// HTTP is the client for roaming and LNS webhooks; nil uses http.DefaultClient.
	HTTP *http.Client
	// Registry receives metrics; nil registers none.
	Registry prometheus.Registerer
	// Clock is the time source; nil is the real clock.
	Clock clock.Clock
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// Service is the packet router as run inside `hexnet serve`: routes, data
// credits, transfers, the Router with a delivery dialer for every protocol
// (gwmp, chirpstack_mqtt, http_roaming), the MQTT subscriptions, and
// optionally the basic LNS. Build with NewService, run with Run.
type Service struct {
	cfg      ServiceConfig
	deps     ServiceDeps
	log      *slog.Logger
	routes   *routes.Service
	dcStore  *dc.Store
	router   *Router
	roaming  *roaming.Roaming
	lns      *lns.Server
	txacks   *prometheus.CounterVec
	keys     *identity.KeyCache
	closeMu  sync.Mutex
	closed   bool
	closeCh  chan struct{}
	runStart sync.Once
}

// mqttPublisher adapts an mqttc client to the Publisher interfaces (QoS 1).
type mqttPublisher struct {
	c       *mqttc.Client
	timeout time.Duration
}

func (p mqttPublisher) Publish(topic string, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	return p.c.Publish(ctx, topic, 1, false, b)
}

// NewService assembles the router; it starts nothing.
func NewService(cfg ServiceConfig, deps ServiceDeps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if deps.Store == nil || deps.Key == nil || deps.Hotspots == nil || deps.MQTT == nil {
		return nil, fmt.Errorf("%w: Store, Key, Hotspots and MQTT are required", ErrConfig)
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.HTTP == nil {
		deps.HTTP = http.DefaultClient
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger.With("component", "router_service"),
		keys: identity.NewKeyCache(1024), closeCh: make(chan struct{})}
	var err error
	if s.routes, err = routes.Open(deps.Store.Prefix("routes/")); err != nil {
		return nil, fmt.Errorf("router: open routes: %w", err)
	}
	ledger := deps.DC
	if ledger == nil {
		s.dcStore = dc.NewStore(deps.Store.Prefix("dc/"))
		ledger = s.dcStore
	}
	pub := mqttPublisher{c: deps.MQTT, timeout: cfg.PublishTimeout}
	g := cfg.GWMP
	dialers := map[routes.Protocol]delivery.Dialer{
		routes.ProtocolGWMP: func(d routes.Destination, down func(delivery.Downlink)) (delivery.Sender, error) {
			return gwmpfwd.New(gwmpfwd.Config{Address: d.Address, KeepaliveInterval: g.KeepaliveInterval,
				IdleTimeout: g.IdleTimeout, MaxGateways: g.MaxGateways}, down, deps.Clock, deps.Logger)
		},
		routes.ProtocolChirpStackMQTT: chirpmqtt.Dialer(chirpmqtt.Config{QoS: cfg.ChirpStack.QoS, Timeout: cfg.ChirpStack.Timeout}, deps.Logger),
	}
	if cfg.Roaming.NetID != "" {
		s.roaming, err = roaming.New(cfg.Roaming, roaming.Deps{HTTP: deps.HTTP, Clock: deps.Clock, Logger: deps.Logger})
		if err != nil {
			return nil, fmt.Errorf("router: roaming: %w", err)
		}
		dialers[routes.ProtocolHTTPRoaming] = s.roaming.Dialer()
	}
	s.router, err = New(cfg.Router, Deps{Routes: s.routes, Hotspots: deps.Hotspots, DC: ledger,
		Dial: delivery.Multi(dialers), Publisher: pub, Key: deps.Key, Registry: deps.Registry,
		Clock: deps.Clock, Logger: deps.Logger})
	if err != nil {
		return nil, err
	}
	if cfg.LNSEnabled {
		s.lns, err = lns.New(cfg.LNS, lns.Deps{Store: deps.Store.Prefix("lns/"), Publisher: pub, HTTP: deps.HTTP,
			Clock: deps.Clock, Logger: deps.Logger})
		if err != nil {
			return nil, fmt.Errorf("router: lns: %w", err)
		}
	}
	s.txacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexnet_router_txacks_total",
		Help: "TxAcks from hotspots for PacketDowns, by status (invalid: bad topic, message or signature)."}, []string{"status"})
	if deps.Registry != nil {
		if err := deps.Registry.Register(s.txacks); err != nil {
			return nil, fmt.Errorf("router: register metrics: %w", err)
		}
	}
	return s, nil
}

// Router returns the assembled Router.
func (s *Service) Router() *Router { return s.router }

// Routes returns the route store (routes.Manager for the admin API or the ledger).
func (s *Service) Routes() *routes.Service { return s.routes }

// DCStore returns the built-in data-credit store (to Credit payers), or nil
// when ServiceDeps.DC was given.
func (s *Service) DCStore() *dc.Store { return s.dcStore }

// LNS returns the basic LNS, or nil when it is disabled.
func (s *Service) LNS() *lns.Server { return s.lns }

// AdminHandler serves the route admin API (routes.AdminHandler: GET/PUT/DELETE
// /routes[/{id}]) with ServiceConfig.AdminToken. Mount it with
// http.StripPrefix, e.g. mux.Handle("/admin/router/", http.StripPrefix("/admin/router", h)).
func (s *Service) AdminHandler() http.Handler { return routes.AdminHandler(s.routes, s.cfg.AdminToken) }

// LNSHandler serves the basic LNS's device API (lns.Server.Handler:
// /devices[/{dev_eui}[/queue]]) with ServiceConfig.AdminToken, or is nil
// when the LNS is disabled. Mount it with http.StripPrefix like AdminHandler.
func (s *Service) LNSHandler() http.Handler {
	if s.lns == nil {
		return nil
	}
	return s.lns.Handler(s.cfg.AdminToken)
}

// RoamingHandler serves the LoRaWAN Backend Interfaces endpoint that
// home network servers POST XmitDataReq to (it must be reachable at
// ServiceConfig.Roaming.Endpoint), or is nil when roaming is not configured.
func (s *Service) RoamingHandler() http.Handler {
	if s.roaming == nil {
		return nil
	}
	return s.roaming.Handler()
}

// Run subscribes to uplinks and TxAcks, runs the router (and the LNS) and
// returns when ctx ends or Close is called; the subscriptions are dropped
// on the way out.
func (s *Service) Run(ctx context.Context) error {
	first := false
	s.runStart.Do(func() { first = true })
	if !first {
		return fmt.Errorf("router: service already ran")
	}
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return ErrClosed
	}
	s.closeMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("router: %s: %w", name, err)
			}
		}()
	}
	start("router", s.router.Run)
	if s.lns != nil {
		start("lns", s.lns.Run)
	}
	if s.roaming != nil {
		start("roaming", s.roaming.Run)
	}
	var err error
	if err = s.deps.MQTT.SubscribeDeferred(wire.UpFilter, 1, s.router.HandleDeferred); err == nil {
		defer s.deps.MQTT.Unsubscribe(wire.UpFilter)
		if err = s.deps.MQTT.Subscribe(wire.TxAckFilter, 1, s.onTxAck); err == nil {
			defer s.deps.MQTT.Unsubscribe(wire.TxAckFilter)
		}
	}
	if err != nil {
		err = fmt.Errorf("router: subscribe: %w", err)
	} else {
		select {
		case <-ctx.Done():
		case <-s.closeCh:
		case err = <-errc:
		}
	}
	cancel()
	wg.Wait()
	return err
}

// onTxAck counts a hotspot's TxAck by status after checking its topic and
// signature (the signer must be the hotspot of the topic), and hands it to
// the sender whose LNS asked for that downlink (Router.TxAck).
func (s *Service) onTxAck(topic string, payload []byte) {
	t, err := wire.ParseTopic(topic)
	ack := new(wire.TxAck)
	if err != nil || t.Kind != wire.KindTxAck || wire.Unmarshal(payload, ack) != nil {
		s.txacks.WithLabelValues("invalid").Inc()
		return
	}
	pk, err := s.keys.VerifySigned(ack)
	if err != nil || string(identity.AddressOf(pk)) != t.Address {
		s.txacks.WithLabelValues("invalid").Inc()
		return
	}
	s.txacks.WithLabelValues(ack.Status.String()).Inc()
	s.router.TxAck(pk, ack.GetId(), ack.GetStatus())
}

// Close stops Run and closes the router and the LNS; idempotent.
func (s *Service) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closeCh)
	s.closeMu.Unlock()
	errs := []error{s.router.Close()}
	if s.lns != nil {
		errs = append(errs, s.lns.Close())
	}
	if s.roaming != nil {
		errs = append(errs, s.roaming.Close())
	}
	return errors.Join(errs...)
}
