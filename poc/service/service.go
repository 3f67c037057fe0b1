// Package service assembles the PoC oracle of `hexnet serve` (DESIGN.md §5):
// the entropy oracle, the ingest pipeline with the verifier, the density map,
// the reciprocity history and the reward accumulator, over one store space.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/poc/density"
	"github.com/hexnet/hexnet/poc/entropy"
	"github.com/hexnet/hexnet/poc/ingest"
	"github.com/hexnet/hexnet/poc/rewards"
	"github.com/hexnet/hexnet/poc/trust"
	"github.com/hexnet/hexnet/poc/verify"
)

// SubscribeTopic is the MQTT filter the PoC oracle consumes.
const SubscribeTopic = "hexnet/v1/poc/+"

// Config is the PoC oracle's configuration: one section per part.
type Config struct {
	// Entropy: a new value every 60 s.
	Entropy entropy.Config `toml:"entropy"`
	// Verify: the rules' numbers (DESIGN.md §5 defaults).
	Verify verify.Config `toml:"verify"`
	// Density: HIP-17 with HIP-104 parameters.
	Density density.Config `toml:"density"`
	// Ingest: admission, windows, dedup, epochs.
	Ingest ingest.Config `toml:"ingest"`
	// Trust: the gaming detector's evidence thresholds and reward scaling.
	Trust trust.Config `toml:"trust"`
	// DenylistFile is a signed denylist (verify.SignDenylist) checked
	// against the admin key; empty: nothing denied.
	DenylistFile string `toml:"denylist_file"`
}

// DefaultConfig returns every part's defaults.
func DefaultConfig() Config {
	return Config{
		Entropy: entropy.DefaultConfig(), Verify: verify.DefaultConfig(),
		Density: density.DefaultConfig(), Ingest: ingest.DefaultConfig(), Trust: trust.DefaultConfig(),
	}
}

// ErrBadConfig is returned by Validate.
var ErrBadConfig = errors.New("poc service: bad config")

// Validate checks every part and their coherence.
func (c Config) Validate() error {
	errs := []error{c.Entropy.Validate(), c.Verify.Validate(), c.Density.Validate(), c.Ingest.Validate(), c.Trust.Validate()}
	if c.Ingest.ReplayWindow < c.Verify.ReciprocityWindow || c.Ingest.ReplayWindow < c.Density.InteractiveWindow {
		errs = append(errs, fmt.Errorf("%w: ingest.replay_window %v must cover verify.reciprocity_window %v and density.interactive_window %v",
			ErrBadConfig, c.Ingest.ReplayWindow, c.Verify.ReciprocityWindow, c.Density.InteractiveWindow))
	}
	if c.Verify.EntropyValidity < c.Entropy.Interval {
		errs = append(errs, fmt.Errorf("%w: verify.entropy_validity %v shorter than entropy.interval %v",
			ErrBadConfig, c.Verify.EntropyValidity, c.Entropy.Interval))
	}
	return errors.Join(errs...)
}

// Deps are the oracle's collaborators.
type Deps struct {
	// Store is the PoC space (e.g. db.Prefix("poc/")); required. Entropy,
	// registry and ingest use sub-spaces of it.
	Store *store.Space
	// EntropyKey signs entropy values (required).
	EntropyKey *identity.Key
	// DenylistKey is the key the denylist file must be signed by (required
	// when Config.DenylistFile is set).
	DenylistKey identity.PublicKey
	// Publish publishes entropy retained on wire.EntropyTopic (optional).
	Publish entropy.Publisher
	// Subscribe, when set, is called by Run once the pipeline has recovered,
	// with SubscribeTopic and the handler to call for every message; it
	// returns a function that unsubscribes. The handler returns nil or a
	// rejection (errors.Is ingest.ErrRejected): acknowledge; any other error
	// (ingest.ErrStore): do not acknowledge, so the broker redelivers.
	Subscribe func(topic string, handle func(topic string, payload []byte) error) (unsubscribe func(), err error)
	// Registry is the onboarding view (the ledger); nil: a store-backed
	// ingest.Registry (see Service.Registry).
	Registry verify.Registry
	// Clock (default the real clock).
	Clock clock.Clock
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Metrics receives the oracle's metrics (optional).
	Metrics prometheus.Registerer
}

// ErrMissingDep is returned by New when a required dependency is nil.
var ErrMissingDep = errors.New("poc service: missing dependency")

// Service is the PoC oracle.
type Service struct {
	cfg      Config
	deps     Deps
	oracle   *entropy.Oracle
	pipeline *ingest.Pipeline
	registry *ingest.Registry
	density  *density.Map
	rewards  *rewards.Accumulator
	history  *verify.MemHistory
	trust    *trust.Tracker

	mu     sync.Mutex
	closed bool
	cancel context.CancelFunc
	done   chan struct{}
}

// New builds the oracle; it starts nothing (the registry is loaded from the
// store).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.EntropyKey == nil {
		return nil, ErrMissingDep
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	log := deps.Logger.With("component", "poc")
	s := &Service{cfg: cfg, deps: deps, rewards: rewards.NewAccumulator(), history: verify.NewMemHistory(), done: make(chan struct{})}
	var err error
	if deps.Registry == nil {
		if s.registry, err = ingest.NewRegistry(deps.Store.Prefix("registry/")); err != nil {
			return nil, err
		}
		deps.Registry = s.registry
	}
	if s.density, err = density.New(cfg.Density); err != nil {
		return nil, err
	}
	var deny *verify.Denylist
	if cfg.DenylistFile != "" {
		if deny, err = loadDenylist(cfg.DenylistFile, deps.DenylistKey); err != nil {
			return nil, err
		}
	}
	ents := entropy.NewSpaceStore(deps.Store.Prefix("entropy/"))
	if s.oracle, err = entropy.New(cfg.Entropy, entropy.Deps{
		Key: deps.EntropyKey, Store: ents, Publish: deps.Publish, Clock: deps.Clock.Now, After: deps.Clock.After, Logger: log,
	}); err != nil {
		return nil, err
	}
	v, err := verify.New(cfg.Verify, verify.Deps{
		Registry: deps.Registry, Entropies: entropy.Timestamps{Store: ents}, Build: verify.BeaconBuilder,
		History: s.history, Denylist: deny,
	})
	if err != nil {
		return nil, err
	}
	if s.trust, err = trust.New(cfg.Trust, trust.Deps{Registry: deps.Registry, Store: deps.Store.Prefix("trust/"), Logger: log}); err != nil {
		return nil, err
	}
	if s.pipeline, err = ingest.New(cfg.Ingest, ingest.Deps{
		Store: deps.Store.Prefix("ingest/"), Registry: deps.Registry, Verifier: v, History: s.history,
		Density: s.density, Rewards: s.rewards, Trust: s.trust, Clock: deps.Clock, Logger: log, Metrics: deps.Metrics,
	}); err != nil {
		return nil, err
	}
	s.deps = deps
	return s, nil
}

// Run runs the entropy oracle and the pipeline (which first recovers the
// persisted state), then subscribes through Deps.Subscribe, until ctx ends
// or Close is called.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closed || s.cancel != nil {
		s.mu.Unlock()
		return errors.New("poc service: already run or closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.mu.Unlock()
	defer close(s.done)
	defer cancel()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.oracle.Run(gctx) })
	g.Go(func() error { return s.pipeline.Run(gctx) })
	if s.deps.Subscribe != nil {
		select {
		case <-s.pipeline.Ready():
		case <-gctx.Done():
			return ignoreCanceled(g.Wait())
		}
		unsub, err := s.deps.Subscribe(SubscribeTopic, s.pipeline.Handle)
		if err != nil {
			cancel()
			_ = g.Wait()
			return fmt.Errorf("poc service: subscribe: %w", err)
		}
		defer unsub()
	}
	return ignoreCanceled(g.Wait())
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close stops Run and the pipeline. It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-s.done
	}
	_ = s.oracle.Close()
	return s.pipeline.Close()
}

// Handle admits one MQTT message (see ingest.Pipeline.Handle).
func (s *Service) Handle(topic string, payload []byte) error {
	return s.pipeline.Handle(topic, payload)
}

// OnResult registers a consumer of every verdict (maps, gaming detector,
// ledger); register before Run.
func (s *Service) OnResult(fn func(ingest.Result)) { s.pipeline.OnResult(fn) }

// Handler serves ingest.QueryPattern (GET /api/v1/hotspots/{addr}/poc).
func (s *Service) Handler() http.Handler { return s.pipeline.Handler() }

// Pipeline returns the ingest pipeline (Flush for simulators, Query).
func (s *Service) Pipeline() *ingest.Pipeline { return s.pipeline }

// Oracle returns the entropy oracle.
func (s *Service) Oracle() *entropy.Oracle { return s.oracle }

// Trust returns the gaming detector (Score per hotspot).
func (s *Service) Trust() *trust.Tracker { return s.trust }

// Flagged returns every hotspot the gaming detector flagged at any time
// (sticky across restarts), each mapped to true.
func (s *Service) Flagged() map[identity.PublicKey]bool { return s.trust.Flagged() }

// TrustHandler serves trust.QueryPattern (GET /api/v1/hotspots/{addr}/trust).
func (s *Service) TrustHandler() http.Handler { return s.trust.Handler() }

// OnTrust registers a consumer of hotspots' trust as it changes (JSON of
// trust.Trust, e.g. for the explorer's SetTrust); register before Run.
func (s *Service) OnTrust(fn func(addr string, trust json.RawMessage)) { s.trust.OnTrust(fn) }

// Registry returns the store-backed registry, or nil when Deps.Registry was given.
func (s *Service) Registry() *ingest.Registry { return s.registry }

// Density returns the live density map (scale per hotspot and hex).
func (s *Service) Density() *density.Map { return s.density }

// Rewards returns the per-epoch reward units for the ledger, each
// hotspot's totals multiplied at the epoch's close by its trust multiplier
// at that moment.
func (s *Service) Rewards() rewards.Ledger {
	return rewards.Weighted{Ledger: s.rewards, Weight: s.trust.Multiplier}
}

// Units returns the per-epoch reward units as verdicts earned them, before
// trust.
func (s *Service) Units() *rewards.Accumulator { return s.rewards }

// loadDenylist reads and checks a signed denylist file.
func loadDenylist(path string, key identity.PublicKey) (*verify.Denylist, error) {
	if key == (identity.PublicKey{}) {
		return nil, fmt.Errorf("%w: denylist_file set without a denylist key", ErrMissingDep)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("poc service: denylist: %w", err)
	}
	if len(data) > verify.MaxDenylistSize {
		return nil, fmt.Errorf("poc service: denylist: %w: %d bytes", verify.ErrBadDenylist, len(data))
	}
	return verify.LoadDenylist(data, key)
}
