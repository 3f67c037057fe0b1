package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/ledger/ledgerpb"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/node"
	"github.com/hexnet/hexnet/internal/radio"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/poc/ingest"
)

// Options are how a devnet run is started (the `hexnet devnet` flags).
type Options struct {
	Scenario    *Scenario
	DataDir     string        // store and agent data, new or empty; a temp dir when empty (removed afterwards)
	HTTPAddr    string        // explorer and API; default 127.0.0.1:8080
	MQTTAddr    string        // embedded broker; default 127.0.0.1:0
	Speedup     float64       // overrides the scenario's when > 0
	Duration    time.Duration // wall-clock run time; 0 = until ctx ends
	SummaryPath string        // write the summary JSON here at the end
	Progress    io.Writer     // live progress lines; nil = none
	Logger      *slog.Logger  // nil = discard
	// OnReady is called once the network, agents and devices run, with the explorer URL.
	OnReady func(explorerURL string)
}

// Devnet is one running devnet.
type Devnet struct {
	opts    Options
	s       *Scenario
	clk     *clock.Scaled
	log     *slog.Logger
	node    *node.Node
	medium  *radio.Medium
	plans   []*hotspotPlan
	agents  []*hotspot.Agent
	gws     []*radio.Gateway
	devices []*device
	tally   *pocTally
	bridge  *mapperBridge
	maker   *identity.Key
	ouiKey  *identity.Key
	start   time.Time
}

// Run runs a devnet until ctx ends or opts.Duration passes, then writes the
// summary (when asked) and returns it.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Scenario == nil {
		return nil, errors.New("devnet: no scenario")
	}
	s := *opts.Scenario
	if opts.Speedup > 0 {
		s.Speedup = opts.Speedup
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:8080"
	}
	if opts.MQTTAddr == "" {
		opts.MQTTAddr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.DataDir != "" {
		if err := checkFresh(opts.DataDir); err != nil {
			return nil, err
		}
	}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "hexnet-devnet-")
		if err != nil {
			return nil, fmt.Errorf("devnet: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.DataDir = dir
	}
	start := s.Start
	if start.IsZero() {
		start = time.Now().UTC()
	}
	d := &Devnet{opts: opts, s: &s, clk: clock.NewScaled(start, s.Speedup), log: opts.Logger, start: start}
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	return d.run(ctx)
}

// ErrUsedDataDir is returned by Run for a data directory that already holds
// a devnet's network.
var ErrUsedDataDir = errors.New("devnet: data directory holds an earlier run")

// checkFresh refuses a data directory that holds an earlier run: a devnet
// starts a new network with its clock at the scenario's start, so the
// stored ledger, PoC history and agents would be ahead of it. The
// directory is kept for inspection; a new run needs another one.
func checkFresh(dir string) error {
	entries, err := os.ReadDir(filepath.Join(dir, "network"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("devnet: %w", err)
	case len(entries) == 0:
		return nil
	}
	return fmt.Errorf("%w: %s (a devnet cannot resume one; remove it or pass another directory)", ErrUsedDataDir, dir)
}

// nodeConfig is the network side's configuration for the scenario.
func (d *Devnet) nodeConfig() node.Config {
	s := d.s
	cfg := node.DefaultConfig()
	cfg.DataDir = filepath.Join(d.opts.DataDir, "network")
	cfg.HTTP.Addr = d.opts.HTTPAddr
	cfg.Broker.Listen = d.opts.MQTTAddr
	l := &cfg.Ledger
	l.Network = "devnet-" + s.Name
	l.EpochLength = s.EpochLength
	l.CloseDelay = s.EpochLength / 20
	l.CheckInterval = time.Second
	l.TokensPerEpoch = s.Emission
	var allocs []string
	const plenty = "1000000000000000:100000000000000" // tokens:DC, enough for any scenario's fees
	for _, p := range d.plans {
		allocs = append(allocs, string(p.owner.Address())+"="+plenty)
	}
	allocs = append(allocs, string(d.maker.Address())+"="+plenty, string(d.ouiKey.Address())+"="+plenty)
	l.Allocations = allocs
	region, _ := lorawan.ParseRegion(s.Region)
	cfg.Router.LNS.Listen = "127.0.0.1:0"
	cfg.Router.LNS.Region = region
	cfg.Router.LNS.WebhookURL = d.bridge.url()
	tuneNode(&cfg, s)
	return cfg
}

func (d *Devnet) run(ctx context.Context) (*Summary, error) {
	s := d.s
	rng := mrand.New(mrand.NewPCG(s.Seed, 0x5eed))
	d.plans = plan(s, rng)
	d.maker = seededKey(s.Seed, "maker")
	d.ouiKey = seededKey(s.Seed, "oui-owner")
	region, err := lorawan.ParseRegion(s.Region)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	reg, err := lorawan.RegionByID(region)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}

	d.tally = newPoCTally()
	d.bridge, err = newMapperBridge(func() string { return "http://" + d.node.HTTPAddr() + "/api/v1/ingest/uplink" }, d.plans)
	if err != nil {
		return nil, err
	}
	defer d.bridge.close()
	n, err := node.New(d.nodeConfig(), node.Deps{Logger: d.log, Clock: d.clk, OnPoCResult: []func(ingest.Result){d.tally.add}})
	if err != nil {
		return nil, err
	}
	d.node = n
	nctx, ncancel := context.WithCancel(context.Background())
	nerr := make(chan error, 1)
	go func() { nerr <- n.Run(nctx) }()
	defer func() { ncancel(); <-nerr }()
	select {
	case <-n.Ready():
	case err := <-nerr:
		return nil, fmt.Errorf("devnet: network: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := d.onboard(); err != nil {
		return nil, err
	}

	// The air, the hotspots' gateways and agents.
	d.medium = radio.NewMedium(s.Model(), d.clk)
	ch := &cheats{model: s.Model(), clk: d.clk, eirp: reg.MaxEIRP, rings: map[int]*bus{}, seed: s.Seed, region: region}
	actx, acancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { acancel(); wg.Wait() }()
	for _, p := range d.plans {
		a, err := d.startAgent(actx, &wg, p, ch.hooks(p))
		if err != nil {
			return nil, err
		}
		d.agents = append(d.agents, a)
		gw := radio.NewGateway(radio.GatewayConfig{
			Node:   &radio.Node{ID: string(p.key.Address()), Lat: p.trueLat, Lng: p.trueLng, HeightM: p.heightM, GainDBi: float64(p.gainDBiX10) / 10},
			Server: a.ForwarderAddr(),
			EUI:    gatewayEUI(p.key.Public()),
			Duty:   dutyCycle(region),
			Logger: d.log,
		}, d.medium, d.clk)
		d.gws = append(d.gws, gw)
		wg.Add(1)
		go func() { defer wg.Done(); _ = gw.Run(actx) }()
	}
	if err := d.startDevices(actx, &wg, reg, rng); err != nil {
		return nil, err
	}
	url := "http://" + n.HTTPAddr() + "/"
	if d.opts.OnReady != nil {
		d.opts.OnReady(url)
	}
	d.progressLoop(ctx)
	sum := d.summary()
	if d.opts.SummaryPath != "" {
		if err := sum.WriteFile(d.opts.SummaryPath); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func gatewayEUI(pk identity.PublicKey) gwmp.EUI {
	var e gwmp.EUI
	copy(e[:], pk[:8])
	return e
}

func dutyCycle(r wire.Region) *radio.DutyCycle {
	if r == wire.Region_EU868 {
		return radio.NewDutyCycle(0.01, time.Hour)
	}
	return nil
}

// onboard registers the maker, onboards every hotspot and asserts its
// (claimed) location through the ledger's own operations.
func (d *Devnet) onboard() error {
	l := d.node.Ledger()
	keys := d.node.Keys()
	nonces := map[identity.PublicKey]uint64{}
	next := func(k *identity.Key) uint64 { nonces[k.Public()]++; return nonces[k.Public()] }
	submit := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		return l.Submit(b)
	}
	if err := submit(ledger.SignOp(keys.Admin, &ledgerpb.RegisterMaker{Nonce: next(keys.Admin), Maker: d.maker.Public().Bytes(), Name: "devnet-maker"})); err != nil {
		return fmt.Errorf("devnet: register maker: %w", err)
	}
	for _, p := range d.plans {
		if err := submit(ledger.OnboardOp(p.key.Public(), p.owner, d.maker, next(d.maker))); err != nil {
			return fmt.Errorf("devnet: onboard %d: %w", p.index, err)
		}
		cell := h3.LatLngToCell(h3.LatLng{Lat: p.assLat, Lng: p.assLng}, ledger.LocationResolution)
		if err := submit(ledger.SignOp(p.owner, &ledgerpb.AssertLocation{Nonce: next(p.owner), Hotspot: p.key.Public().Bytes(),
			H3: uint64(cell), Gain: p.gainDBiX10, Elevation: int32(p.heightM)})); err != nil {
			return fmt.Errorf("devnet: assert %d: %w", p.index, err)
		}
	}
	return d.setupOUI(next)
}

func (d *Devnet) startAgent(ctx context.Context, wg *sync.WaitGroup, p *hotspotPlan, hooks hotspot.Hooks) (*hotspot.Agent, error) {
	keys := d.node.Keys()
	cfg := hotspot.DefaultConfig()
	cfg.KeyFile = "devnet"
	cfg.DataDir = filepath.Join(d.opts.DataDir, "agents", strconv.Itoa(p.index))
	cfg.Broker.URL = d.node.BrokerURL()
	cfg.Broker.StatsInterval = 10 * time.Minute
	cfg.Broker.MaxReconnectDelay = 5 * time.Second
	cfg.Forward.Listen = "127.0.0.1:0"
	cfg.Status.Listen = "127.0.0.1:0"
	cfg.Queue.MaxBytes = 8 << 20
	cfg.Network.Router = string(keys.Router.Address())
	cfg.Network.Entropy = string(keys.Entropy.Address())
	cfg.Network.Config = string(keys.Config.Address())
	cfg.PoC.BeaconInterval = d.s.PoC.BeaconInterval
	dial, err := hotspot.MQTTDialer(cfg.Broker, d.log)
	if err != nil {
		return nil, err
	}
	a, err := hotspot.New(cfg, "devnet", hotspot.Deps{
		Key: p.key, Dial: dial, Clock: d.clk, Logger: d.log,
		Rand:  mrand.New(mrand.NewPCG(d.s.Seed, uint64(p.index)+1000)),
		Hooks: hooks,
	})
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); errc <- a.Run(ctx) }()
	select {
	case <-a.Ready():
		return a, nil
	case err := <-errc:
		return nil, fmt.Errorf("devnet: agent %d: %w", p.index, err)
	}
}
