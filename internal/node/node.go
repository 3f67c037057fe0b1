// Package node assembles the network side of hexnet in one process: the
// store, the embedded MQTT broker (or a connection to an external one), the
// network keys, the HTTP server with /healthz and /metrics, and the network
// roles that plug into them. `hexnet serve` and the devnet both run a Node.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/store"
	mapssvc "github.com/hexnet/hexnet/maps/service"
	"github.com/hexnet/hexnet/poc/ingest"
	pocsvc "github.com/hexnet/hexnet/poc/service"
	"github.com/hexnet/hexnet/router"
)

// Config is the configuration of `hexnet serve`.
type Config struct {
	DataDir  string               `toml:"data_dir" help:"directory of the store and the network keys"`
	HTTP     HTTPConfig           `toml:"http" help:"explorer, API, /healthz and /metrics"`
	Broker   BrokerConfig         `toml:"broker" help:"MQTT: the embedded broker, or an external one by URL"`
	Store    StoreConfig          `toml:"store" help:"Pebble store tuning"`
	Ledger   ledger.Config        `toml:"ledger" help:"the network's books: accounts, makers, hotspots, OUIs, reward epochs"`
	PoC      pocsvc.Config        `toml:"poc" help:"proof of coverage: entropy, verification, density, ingest (its epoch length follows the ledger's)"`
	Maps     mapssvc.Config       `toml:"maps" help:"coverage maps, explorer API, live feed and web map"`
	Router   router.ServiceConfig `toml:"router" help:"packet routing, data-credit billing, delivery to LNSs, and the basic LNS"`
	Releases ReleasesConfig       `toml:"releases" help:"firmware releases served to hotspot agents (over-the-air updates)"`
}

// HTTPConfig configures the HTTP server.
type HTTPConfig struct {
	Addr string `toml:"addr" help:"HTTP listen address; port 0 picks a free port"`
}

// BrokerConfig selects and configures the MQTT broker.
type BrokerConfig struct {
	Listen        string        `toml:"listen" help:"embedded broker TCP address; port 0 picks a free port"`
	TLSCert       string        `toml:"tls_cert" help:"PEM certificate: the embedded broker speaks TLS when set with tls_key"`
	TLSKey        string        `toml:"tls_key" help:"PEM private key for tls_cert"`
	External      string        `toml:"external" help:"URL of an external broker (tcp://, ssl://); when set no embedded broker runs"`
	Username      string        `toml:"username" help:"username the network services use on an external broker"`
	Password      string        `toml:"password" help:"password the network services use on an external broker"`
	MaxClockSkew  time.Duration `toml:"max_clock_skew" help:"how far a login token's timestamp may be from the broker clock"`
	WritesPending int           `toml:"writes_pending" help:"messages queued toward one client before the embedded broker drops (0: 1024)"`
}

// StoreConfig tunes Pebble.
type StoreConfig struct {
	CacheMiB int64 `toml:"cache_mib" help:"Pebble block cache in MiB"`
	// SyncInterval bounds how long a write made without sync (data-credit
	// debits, data-transfer records) may stay in the OS page cache: a power
	// loss forgets at most this much of them (an undercharge, never a double
	// charge). Real time, not the node's clock.
	SyncInterval time.Duration `toml:"sync_interval" help:"fsync the store's log at least this often (real time)"`
}

// DefaultConfig returns the defaults of `hexnet serve`.
func DefaultConfig() Config {
	return Config{
		DataDir:  "hexnet-data",
		HTTP:     HTTPConfig{Addr: "127.0.0.1:8080"},
		Broker:   BrokerConfig{Listen: broker.DefaultAddr, MaxClockSkew: broker.DefaultMaxClockSkew},
		Store:    StoreConfig{CacheMiB: 64, SyncInterval: 200 * time.Millisecond},
		Ledger:   ledger.DefaultConfig(),
		PoC:      pocsvc.DefaultConfig(),
		Maps:     mapssvc.DefaultConfig(),
		Router:   defaultRouterConfig(),
		Releases: ReleasesConfig{Channels: []string{"stable", "beta"}, Interval: 10 * time.Minute},
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.HTTP.Addr == "" {
		errs = append(errs, errors.New("http.addr is empty"))
	}
	if c.Broker.External == "" && c.Broker.Listen == "" {
		errs = append(errs, errors.New("broker: set listen (embedded) or external"))
	}
	if (c.Broker.TLSCert == "") != (c.Broker.TLSKey == "") {
		errs = append(errs, errors.New("broker: tls_cert and tls_key go together"))
	}
	if c.Broker.WritesPending < 0 {
		errs = append(errs, fmt.Errorf("broker: writes_pending %d is negative (0 takes the default, %d)", c.Broker.WritesPending, broker.DefaultWritesPending))
	}
	lc := c.Ledger
	if lc.Admin == "" {
		lc.Admin = string(identity.PublicKey{}.Address()) // filled with the node's admin key at Run
	}
	if err := lc.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("ledger: %w", err))
	}
	pc := c.PoC
	pc.Ingest.EpochLength = c.Ledger.EpochLength
	if err := pc.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("poc: %w", err))
	}
	if err := validChannels(c.Releases.Channels); err != nil {
		errs = append(errs, err)
	}
	if err := c.Router.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("router: %w", err))
	}
	if c.Store.CacheMiB <= 0 {
		errs = append(errs, errors.New("store.cache_mib must be positive"))
	}
	if c.Store.SyncInterval <= 0 {
		errs = append(errs, errors.New("store.sync_interval must be positive"))
	}
	return errors.Join(errs...)
}

// Deps are the node's collaborators; all optional.
type Deps struct {
	Logger *slog.Logger
	// Clock drives the network's own time (entropy, PoC windows, epochs);
	// the devnet passes a sped-up clock. Default: the real clock.
	Clock clock.Clock
	// OnPoCResult, when set, receives every PoC verdict (the devnet's summary,
	// the explorer, the gaming detector).
	OnPoCResult []func(ingest.Result)
}

// Node is the network side in one process.
type Node struct {
	cfg      Config
	log      *slog.Logger
	clk      clock.Clock
	onPoC    []func(ingest.Result)
	registry *prometheus.Registry
	mux      *http.ServeMux

	ready    chan struct{}
	mu       sync.Mutex
	db       *store.DB
	keys     *Keys
	broker   *broker.Broker
	ledger   *ledger.Ledger
	poc      *pocsvc.Service
	router   *router.Service
	httpAddr string
	cancel   context.CancelFunc
	done     chan struct{}
	closed   bool
}

// New checks cfg and builds a node; it opens and starts nothing until Run.
func New(cfg Config, deps Deps) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Node{cfg: cfg, log: deps.Logger, clk: deps.Clock, onPoC: deps.OnPoCResult, registry: reg, mux: http.NewServeMux(), ready: make(chan struct{}), done: make(chan struct{})}, nil
}

// Ready is closed once the store is open, the broker and HTTP server listen.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// HTTPAddr is the bound HTTP address (valid after Ready).
func (n *Node) HTTPAddr() string { n.mu.Lock(); defer n.mu.Unlock(); return n.httpAddr }

// BrokerURL is the URL clients use to reach the broker (valid after Ready).
func (n *Node) BrokerURL() string {
	if n.cfg.Broker.External != "" {
		return n.cfg.Broker.External
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.broker == nil {
		return ""
	}
	scheme := "tcp"
	if n.cfg.Broker.TLSCert != "" {
		scheme = "ssl"
	}
	return scheme + "://" + n.broker.Addr()
}

// Ledger returns the ledger (valid after Ready).
func (n *Node) Ledger() *ledger.Ledger { n.mu.Lock(); defer n.mu.Unlock(); return n.ledger }

// PoC returns the PoC oracle (valid after Ready).
func (n *Node) PoC() *pocsvc.Service { n.mu.Lock(); defer n.mu.Unlock(); return n.poc }

// Router returns the packet router (valid after Ready).
func (n *Node) Router() *router.Service { n.mu.Lock(); defer n.mu.Unlock(); return n.router }

// Registry is the node's Prometheus registry (what /metrics serves).
func (n *Node) Registry() *prometheus.Registry { return n.registry }

// Keys returns the network keys (valid after Ready).
func (n *Node) Keys() *Keys { n.mu.Lock(); defer n.mu.Unlock(); return n.keys }

// Run opens the store, starts the broker and the HTTP server, and serves until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	n.mu.Lock()
	if n.closed || n.cancel != nil {
		n.mu.Unlock()
		cancel()
		return errors.New("node: already run or closed")
	}
	n.cancel = cancel
	n.mu.Unlock()
	defer close(n.done)
	defer cancel()

	keys, err := LoadOrCreateKeys(filepath.Join(n.cfg.DataDir, "keys"))
	if err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(n.cfg.DataDir, "store"), store.Options{CacheSize: n.cfg.Store.CacheMiB << 20, Logger: n.log.With("component", "pebble")})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	defer db.Close()
	n.registry.MustRegister(db.Collector())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return db.SyncEvery(gctx, n.cfg.Store.SyncInterval) })
	// The embedded broker stops last, once the roles have stopped and their
	// clients have disconnected: stopped with them, it cut their last
	// publishes and acknowledgements and every stop logged lost connections.
	bctx, bcancel := context.WithCancel(context.Background())
	defer bcancel()
	var b *broker.Broker
	if n.cfg.Broker.External == "" {
		services := make([]string, 0, 5)
		for _, pk := range keys.Services() {
			services = append(services, string(pk.Address()))
		}
		b, err = broker.New(broker.Config{
			Addr: n.cfg.Broker.Listen, TLSCert: n.cfg.Broker.TLSCert, TLSKey: n.cfg.Broker.TLSKey,
			Services: services, MaxClockSkew: n.cfg.Broker.MaxClockSkew, WritesPending: n.cfg.Broker.WritesPending,
		}, broker.Deps{Logger: n.log, Registry: n.registry})
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		g.Go(func() error { return b.Run(bctx) })
		select {
		case <-b.Ready():
		case <-gctx.Done():
			bcancel()
			return g.Wait()
		}
		n.mu.Lock()
		n.broker = b
		n.mu.Unlock()
	}

	rg, rctx := errgroup.WithContext(gctx)
	roles, err := n.startRoles(rctx, rg, db, keys)
	if err != nil {
		cancel()
		_ = rg.Wait()
		bcancel()
		_ = g.Wait()
		return err
	}
	defer roles.close()
	g.Go(func() error {
		err := rg.Wait()
		roles.close()
		bcancel()
		return err
	})
	led, poc, mapsSvc := roles.ledger, roles.poc, roles.maps

	n.mux.Handle("/", mapsSvc.Handler())
	n.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	n.mux.Handle("GET /metrics", promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{Registry: n.registry}))
	ln, err := net.Listen("tcp", n.cfg.HTTP.Addr)
	if err != nil {
		cancel()
		_ = g.Wait()
		return fmt.Errorf("node: http listen: %w", err)
	}
	srv := &http.Server{Handler: n.mux, ReadHeaderTimeout: 10 * time.Second}
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("node: http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		return srv.Shutdown(sctx)
	})

	n.mu.Lock()
	n.db, n.keys, n.broker, n.ledger, n.poc, n.router, n.httpAddr = db, keys, b, led, poc, roles.router, ln.Addr().String()
	n.mu.Unlock()
	close(n.ready)
	n.log.Info("hexnet serving", "http", "http://"+ln.Addr().String(), "mqtt", n.BrokerURL(), "data_dir", n.cfg.DataDir)
	return g.Wait()
}

// serviceClient connects a network service to the broker: with its own key
// on the embedded broker, with the configured credentials on an external one.
// A persistent client keeps its session (and the messages it has not
// acknowledged) across reconnects.
func (n *Node) serviceClient(ctx context.Context, key *identity.Key, role string, concurrent, persistent bool) (*mqttc.Client, error) {
	cfg := mqttc.Config{
		Concurrent:   concurrent,
		URL:          n.BrokerURL(),
		ClientID:     string(key.Address()) + "-" + role,
		CleanSession: !persistent,
		Logger:       n.log.With("component", "mqtt", "role", role),
	}
	if n.cfg.Broker.External != "" {
		cfg.Username, cfg.Password = n.cfg.Broker.Username, n.cfg.Broker.Password
	} else {
		cfg.Key = key
	}
	c, err := mqttc.Dial(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("node: %s mqtt client: %w", role, err)
	}
	return c, nil
}

// Close stops a running node and waits for Run to return. It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	cancel := n.cancel
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-n.done
	}
	return nil
}
