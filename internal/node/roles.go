package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerapi"
	"github.com/hexnet/hexnet/internal/ledger/ledgerlink"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
	mapssvc "github.com/hexnet/hexnet/maps/service"
	"github.com/hexnet/hexnet/poc/ingest"
	pocsvc "github.com/hexnet/hexnet/poc/service"
	"github.com/hexnet/hexnet/poc/trust"
	"github.com/hexnet/hexnet/router"
)

// defaultRouterConfig is the router as `hexnet serve` runs it: with the
// basic LNS on, so a device maker can start without ChirpStack.
func defaultRouterConfig() router.ServiceConfig {
	c := router.ServiceConfig{LNSEnabled: true}.WithDefaults()
	c.Router.Workers = 0 // chosen by the machine that runs it (router.DefaultWorkers), not the one that printed the config
	return c
}

// goRole runs a role in g. An error it returns after ctx ended is part of
// shutting down (a broker connection lost as the broker stops), not a failure.
func goRole(g *errgroup.Group, ctx context.Context, f func() error) {
	g.Go(func() error {
		err := f()
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
}

// roles are the network roles running inside the node.
type roles struct {
	ledger  *ledger.Ledger
	poc     *pocsvc.Service
	maps    *mapssvc.Service
	router  *router.Service
	closers []func()
	once    sync.Once
}

// close closes the roles in reverse order of start, once: the node calls it
// when the roles have stopped (before the broker) and again on its way out.
func (r *roles) close() {
	r.once.Do(func() {
		for i := len(r.closers) - 1; i >= 0; i-- {
			r.closers[i]()
		}
	})
}

// startRoles builds the ledger, the explorer, the PoC oracle, the router and
// the region-parameter publisher, registers their HTTP handlers, and starts
// them in g. On error whatever started is closed.
func (n *Node) startRoles(ctx context.Context, g *errgroup.Group, db *store.DB, keys *Keys) (_ *roles, err error) {
	r := &roles{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	client := func(k *identity.Key, role string, concurrent, persistent bool) (*mqttc.Client, error) {
		c, err := n.serviceClient(ctx, k, role, concurrent, persistent)
		if err == nil {
			r.closers = append(r.closers, func() { c.Close() })
		}
		return c, err
	}

	// Ledger.
	lcfg := n.cfg.Ledger
	if lcfg.Admin == "" {
		lcfg.Admin = string(keys.Admin.Address())
	}
	var pocRef atomic.Pointer[pocsvc.Service] // the ledger asks PoC for an epoch's units before closing it
	var led *ledger.Ledger
	led, err = ledger.New(lcfg, ledger.Deps{
		Store: ledger.SpaceKV(db.Prefix("ledger/")), Oracle: keys.Oracle, Clock: n.clk.Now, Logger: n.log,
		BeforeClose: func(e uint64) error {
			p := pocRef.Load()
			if p == nil {
				return errors.New("node: poc not started")
			}
			return ledgerlink.PumpPoC(led, p.Rewards(), e, n.log)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	r.ledger = led
	r.closers = append(r.closers, func() { led.Close() })
	goRole(g, ctx, func() error { return led.Run(ctx) })
	n.mux.Handle(ledgerapi.Prefix, ledgerapi.NewHandler(led, n.log))

	// Region parameters for hotspots, and hotspot states for the explorer.
	cfgClient, err := client(keys.Config, "config", false, false)
	if err != nil {
		return nil, err
	}
	rp := newRegionParams(led, keys.Config, func(ctx context.Context, topic string, b []byte) error {
		pctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		return cfgClient.Publish(pctx, topic, 1, true, b)
	}, n.clk.Now, n.log)
	goRole(g, ctx, func() error { return rp.Run(ctx) })
	announce, err := n.startReleases(ctx, n.mux, cfgClient)
	if err != nil {
		return nil, err
	}
	if announce != nil {
		goRole(g, ctx, func() error { return announce(ctx) })
	}

	// Explorer.
	m, err := mapssvc.New(n.cfg.Maps, mapssvc.Deps{Store: db.Prefix("maps/"), Now: n.clk.Now, Logger: n.log})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	r.maps = m
	r.closers = append(r.closers, m.Close)
	n.registry.MustRegister(m.Collector())
	goRole(g, ctx, func() error { return m.Run(ctx) })
	feedDropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hexnet_maps_feed_dropped_total",
		Help: "Events not shown on the explorer because its feed queue was full, by feed (packets, hotspots)."}, []string{"feed"})
	n.registry.MustRegister(feedDropped)
	feed := &mapsFeed{agg: m.Agg, ledger: led, log: n.log, seen: map[uint64]bool{}, packets: make(chan router.Purchase, packetQueue),
		droppedMetric: feedDropped.WithLabelValues("packets")}
	changed := make(chan identity.PublicKey, 4096)
	hotspotsDropped := feedDropped.WithLabelValues("hotspots")
	led.SubscribeHotspots(func(pk identity.PublicKey) {
		select {
		case changed <- pk:
		default:
			// The explorer misses this change until the hotspot's next one.
			hotspotsDropped.Inc()
		}
	})
	goRole(g, ctx, func() error { return feed.run(ctx, changed) })
	if err := cfgClient.Subscribe(wire.StateFilter, 1, feed.state); err != nil {
		return nil, fmt.Errorf("node: subscribe hotspot states: %w", err)
	}

	// PoC oracle.
	// A persistent session: a report the oracle fails to store is not
	// acknowledged, and the broker delivers it again after the reconnect
	// (mqttc.SubscribeAck); reports published while the oracle is away wait
	// in its session.
	pocClient, err := client(keys.Oracle, "poc", true, true)
	if err != nil {
		return nil, err
	}
	pcfg := n.cfg.PoC
	pcfg.Ingest.EpochLength = lcfg.EpochLength
	p, err := pocsvc.New(pcfg, pocsvc.Deps{
		Store:       db.Prefix("poc/"),
		EntropyKey:  keys.Entropy,
		DenylistKey: keys.Admin.Public(),
		Publish: func(topic string, b []byte, retained bool) error {
			pctx, c := context.WithTimeout(ctx, 10*time.Second)
			defer c()
			return pocClient.Publish(pctx, topic, 1, retained, b)
		},
		Subscribe: func(topic string, h func(string, []byte) error) (func(), error) {
			err := pocClient.SubscribeAck(topic, 1, func(t string, b []byte) error {
				err := h(t, b)
				if err == nil || errors.Is(err, ingest.ErrRejected) {
					return nil // stored, or refused for good with a counted reason
				}
				n.log.Error("poc report not stored: left unacknowledged for redelivery", "topic", t, "err", err)
				return err
			})
			return func() { _ = pocClient.Unsubscribe(topic) }, err
		},
		Registry: ledgerlink.PoCRegistry{L: led},
		Clock:    n.clk,
		Logger:   n.log,
		Metrics:  n.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	r.poc = p
	r.closers = append(r.closers, func() { p.Close() })
	p.OnResult(feed.result)
	p.OnTrust(func(addr string, j json.RawMessage) { _ = m.Agg.SetTrust(addr, j) })
	for _, fn := range n.onPoC {
		p.OnResult(fn)
	}
	pocRef.Store(p)
	n.mux.Handle(ingest.QueryPattern, p.Handler())
	n.mux.Handle(trust.QueryPattern, p.TrustHandler())
	goRole(g, ctx, func() error { return p.Run(ctx) })

	// Router, billing against the ledger, with the basic LNS.
	// In order, not concurrent: a full router queue then holds paho's one
	// handler goroutine, and so the TCP connection (backpressure), instead of
	// piling up a blocked goroutine per message. Persistent: uplinks are
	// acknowledged once handled, and the unfinished ones come again.
	routerClient, err := client(keys.Router, "router", false, true)
	if err != nil {
		return nil, err
	}
	rcfg := n.cfg.Router
	rcfg.Router.EpochDuration = lcfg.EpochLength // data-transfer records must land in the ledger's epochs
	rs, err := router.NewService(rcfg, router.ServiceDeps{
		Store: db.Prefix("router/"), Key: keys.Router,
		Hotspots: ledgerlink.RouterHotspots{L: led}, DC: ledgerlink.RouterDC{L: led},
		MQTT: routerClient, Registry: n.registry, Clock: n.clk, Logger: n.log,
	})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	r.router = rs
	rs.Router().OnPurchase(feed.purchase)
	r.closers = append(r.closers, func() { rs.Close() })
	goRole(g, ctx, func() error { return rs.Run(ctx) })
	goRole(g, ctx, func() error { return ledgerlink.NewRouteSync(led, rs.Routes(), time.Second, n.log).Run(ctx) })
	n.mux.Handle("/admin/router/", http.StripPrefix("/admin/router", rs.AdminHandler()))
	if h := rs.LNSHandler(); h != nil {
		n.mux.Handle("/lns/", http.StripPrefix("/lns", h))
	}
	if h := rs.RoamingHandler(); h != nil {
		n.mux.Handle("/roaming/xmit", h)
	}
	return r, nil
}
