// Package service assembles the maps component for `hexnet serve` and the
// devnet: the aggregator (ingest API for the network's events), the live
// feed hub and the HTTP handler (API, WebSocket, web map), with one Config,
// one Run and Prometheus metrics.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/maps/api"
	"github.com/hexnet/hexnet/maps/live"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is the maps component's configuration (the [maps] table).
type Config struct {
	Aggregate maps.Config `toml:"aggregate" help:"coverage aggregates: activity window, recent items"`
	Live      live.Config `toml:"live" help:"WebSocket live feed"`
	API       api.Config  `toml:"api" help:"explorer HTTP API, mapper ingest gates and the web map's base map"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{Aggregate: maps.DefaultConfig(), Live: live.DefaultConfig(), API: api.DefaultConfig()}
}

// Validate checks every part.
func (c Config) Validate() error {
	return errors.Join(c.Aggregate.Validate(), c.Live.Validate(), c.API.Validate())
}

// Deps are the component's collaborators.
type Deps struct {
	// Store is the maps space: db.Prefix("maps/"). Required.
	Store *store.Space
	// Now is the clock (the devnet's scaled clock). Default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service is the assembled maps component.
type Service struct {
	// Agg is the ingest API: Hotspot, HotspotState, Beacon, Packet, Scale,
	// Reward, Epoch, Mapper, SetTrust.
	Agg *maps.Aggregator
	// Hub is the live feed.
	Hub *live.Hub
	// API is the HTTP handler (also returned by Handler).
	API *api.Server

	closeOnce sync.Once
}

// New builds the component; it starts nothing.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("maps: %w", err)
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	hub, err := live.New(cfg.Live, live.Deps{Logger: log})
	if err != nil {
		return nil, err
	}
	agg, err := maps.New(cfg.Aggregate, maps.Deps{Store: deps.Store, Now: deps.Now, Live: hub, Logger: log})
	if err != nil {
		return nil, err
	}
	srv, err := api.New(cfg.API, api.Deps{Agg: agg, Live: hub, Now: deps.Now, Logger: log})
	if err != nil {
		return nil, err
	}
	return &Service{Agg: agg, Hub: hub, API: srv}, nil
}

// Handler serves /api/v1/… (except /api/v1/hotspots/{addr}/poc, which the
// PoC component serves), /api/v1/live and the web map at "/". Mount it at "/"
// of the process's mux; more specific patterns registered there win.
func (s *Service) Handler() http.Handler { return s.API }

// Run runs the live feed and the activity sweeps until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- s.Hub.Run(ctx) }()
	go func() { errc <- s.Agg.Run(ctx) }()
	err := <-errc
	cancel()
	err2 := <-errc
	if ctx.Err() != nil && (err == nil || errors.Is(err, live.ErrClosed)) {
		return nil
	}
	return errors.Join(err, err2)
}

// Close stops ingest and disconnects live clients; it is idempotent.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.Agg.Close()
		s.Hub.Close()
	})
}

// Collector returns the component's Prometheus metrics (hexnet_maps_*).
func (s *Service) Collector() prometheus.Collector { return &collector{s: s} }

type collector struct{ s *Service }

var (
	descHotspots  = prometheus.NewDesc("hexnet_maps_hotspots", "Hotspots known to the maps, by state.", []string{"state"}, nil)
	descCoverage  = prometheus.NewDesc("hexnet_maps_coverage_cells", "Res-9 cells with mapper coverage.", nil, nil)
	descEdges     = prometheus.NewDesc("hexnet_maps_witness_edges", "Beaconer → witness edges.", nil, nil)
	descMapper    = prometheus.NewDesc("hexnet_maps_mapper_points_total", "Mapper uplinks accepted.", nil, nil)
	descRejected  = prometheus.NewDesc("hexnet_maps_mapper_rejected_total", "Mapper uplinks or hearing hotspots rejected by the ingest gates, by reason.", []string{"reason"}, nil)
	descClients   = prometheus.NewDesc("hexnet_maps_live_clients", "Connected live feed clients.", nil, nil)
	descPublished = prometheus.NewDesc("hexnet_maps_live_published_total", "Events queued for the live feed.", nil, nil)
	descDropped   = prometheus.NewDesc("hexnet_maps_live_dropped_total", "Events dropped because the live feed queue was full.", nil, nil)
	descDelivered = prometheus.NewDesc("hexnet_maps_live_delivered_total", "Event deliveries to live clients.", nil, nil)
	descSlow      = prometheus.NewDesc("hexnet_maps_live_slow_disconnects_total", "Live clients disconnected for a full send buffer.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHotspots, descCoverage, descEdges, descMapper, descRejected,
		descClients, descPublished, descDropped, descDelivered, descSlow} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Agg.Stats()
	ch <- prometheus.MustNewConstMetric(descHotspots, prometheus.GaugeValue, float64(st.Hotspots), "all")
	ch <- prometheus.MustNewConstMetric(descHotspots, prometheus.GaugeValue, float64(st.Online), "online")
	ch <- prometheus.MustNewConstMetric(descHotspots, prometheus.GaugeValue, float64(st.Active), "active")
	ch <- prometheus.MustNewConstMetric(descCoverage, prometheus.GaugeValue, float64(st.CoverageCells))
	ch <- prometheus.MustNewConstMetric(descEdges, prometheus.GaugeValue, float64(st.WitnessEdges))
	ch <- prometheus.MustNewConstMetric(descMapper, prometheus.CounterValue, float64(st.Counters.MapperPoints))
	for reason, n := range st.Counters.MapperRejected {
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(n), reason)
	}
	ls := c.s.Hub.Stats()
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(ls.Clients))
	ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(ls.Published))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(ls.Dropped))
	ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(ls.Delivered))
	ch <- prometheus.MustNewConstMetric(descSlow, prometheus.CounterValue, float64(ls.SlowDisconnects))
}
