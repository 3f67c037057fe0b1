// Package entropy is the PoC entropy oracle (DESIGN.md §5): every interval
// (60 s) it makes a new signed Entropy, chained to the previous one, keeps it
// so that any beacon report can later be checked against the value it used,
// and publishes it retained on wire.EntropyTopic.
package entropy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
)

// Sizes and versions.
const (
	DataSize   = sha256.Size // Entropy.data length
	FreshSize  = 32          // fresh random bytes mixed into each value
	Version    = 1           // Entropy.version written by this oracle
	defaultInt = 60 * time.Second
)

// Sentinel errors.
var (
	ErrBadConfig = errors.New("entropy: bad config")
	ErrNotFound  = errors.New("entropy: not found")
	ErrInvalid   = errors.New("entropy: invalid entropy")
	ErrClosed    = errors.New("entropy: closed")
)

// Config configures the oracle.
type Config struct {
	// Interval between entropy values: 60 s.
	Interval time.Duration `toml:"interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Interval: defaultInt} }

// Validate checks the config.
func (c Config) Validate() error {
	if c.Interval < time.Second {
		return fmt.Errorf("%w: interval %v < 1s", ErrBadConfig, c.Interval)
	}
	return nil
}

// Store keeps every entropy value, looked up by its data.
type Store interface {
	// Put keeps e durably before returning.
	Put(e *wire.Entropy) error
	// Get returns the entropy with the given data, or ErrNotFound.
	Get(data []byte) (*wire.Entropy, error)
	// Latest returns the newest entropy put, or ErrNotFound.
	Latest() (*wire.Entropy, error)
}

// Publisher publishes a payload on a topic (an MQTT client or the embedded broker).
type Publisher func(topic string, payload []byte, retained bool) error

// Deps are the oracle's collaborators.
type Deps struct {
	Key     *identity.Key    // the entropy oracle key (required)
	Store   Store            // required
	Publish Publisher        // optional: nil publishes nothing
	Clock   func() time.Time // default time.Now
	// After waits on the same clock as Clock (clock.Clock.After), so that a
	// scaled or manual clock also paces Run; default time.After.
	After  func(time.Duration) <-chan time.Time
	Rand   io.Reader    // default crypto/rand
	Logger *slog.Logger // default slog.Default()
}

// Oracle makes the entropy chain.
type Oracle struct {
	cfg  Config
	deps Deps

	mu      sync.Mutex
	current *wire.Entropy
	closed  bool
	done    chan struct{}
	once    sync.Once
}

// New returns an oracle; it starts nothing.
func New(cfg Config, deps Deps) (*Oracle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Key == nil || deps.Store == nil {
		return nil, fmt.Errorf("%w: key and store are required", ErrBadConfig)
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.After == nil {
		deps.After = time.After
	}
	if deps.Rand == nil {
		deps.Rand = rand.Reader
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	return &Oracle{cfg: cfg, deps: deps, done: make(chan struct{})}, nil
}

// Derive computes an entropy value: SHA-256(previous ‖ timestamp i64 LE ‖ fresh).
func Derive(previous []byte, timestamp int64, fresh []byte) []byte {
	h := sha256.New()
	h.Write(previous)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(timestamp))
	h.Write(b[:])
	h.Write(fresh)
	return h.Sum(nil)
}

// Next makes, keeps and publishes a new entropy value now, chained to the
// previous one (taken from the store when the oracle restarts), and returns
// it. A publish failure is logged, not returned: the value is kept, and the
// next one is published again.
func (o *Oracle) Next() (*wire.Entropy, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	if o.current == nil {
		latest, err := o.deps.Store.Latest()
		switch {
		case err == nil:
			o.current = latest
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("entropy: load latest: %w", err)
		}
	}
	var prev []byte
	if o.current != nil {
		prev = o.current.GetData()
	}
	fresh := make([]byte, FreshSize)
	if _, err := io.ReadFull(o.deps.Rand, fresh); err != nil {
		return nil, fmt.Errorf("entropy: randomness: %w", err)
	}
	ts := o.deps.Clock().Unix()
	e := &wire.Entropy{Data: Derive(prev, ts, fresh), Timestamp: ts, Previous: prev, Version: Version}
	if err := o.deps.Key.Sign(e); err != nil {
		return nil, fmt.Errorf("entropy: sign: %w", err)
	}
	if err := o.deps.Store.Put(e); err != nil {
		return nil, fmt.Errorf("entropy: keep: %w", err)
	}
	o.current = e
	if o.deps.Publish != nil {
		b, err := wire.Marshal(e)
		if err == nil {
			err = o.deps.Publish(wire.EntropyTopic, b, true)
		}
		switch {
		case errors.Is(err, context.Canceled):
			// Stopping: the value is kept, and the next start makes and
			// publishes a fresh one at once.
			o.deps.Logger.Debug("entropy not published: stopping", "timestamp", ts)
		case err != nil:
			o.deps.Logger.Warn("entropy publish failed", "err", err, "timestamp", ts)
		}
	}
	return e, nil
}

// Current returns the newest value made by this oracle, or nil before the first.
func (o *Oracle) Current() *wire.Entropy {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.current
}

// Run makes a value at once and then every interval until ctx ends or the
// oracle is closed. The simulator drives Next directly instead.
func (o *Oracle) Run(ctx context.Context) error {
	if _, err := o.Next(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-o.done:
			return nil
		case <-o.deps.After(o.cfg.Interval):
			if _, err := o.Next(); err != nil {
				if errors.Is(err, ErrClosed) {
					return nil
				}
				o.deps.Logger.Error("entropy generation failed", "err", err)
			}
		}
	}
}

// Close stops Run; it is idempotent.
func (o *Oracle) Close() error {
	o.once.Do(func() {
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		close(o.done)
	})
	return nil
}

// Check verifies that e is a well-formed entropy value signed by the oracle key.
func Check(e *wire.Entropy, oracle identity.PublicKey) error {
	if e == nil || len(e.GetData()) != DataSize {
		return fmt.Errorf("%w: data length", ErrInvalid)
	}
	if len(e.GetPrevious()) != 0 && len(e.GetPrevious()) != DataSize {
		return fmt.Errorf("%w: previous length", ErrInvalid)
	}
	if err := identity.Verify(e, oracle); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if string(e.GetSigner()) != string(oracle[:]) {
		return fmt.Errorf("%w: signer is not the oracle", ErrInvalid)
	}
	return nil
}

// MemStore is an in-memory Store for tests and the simulator.
type MemStore struct {
	mu     sync.RWMutex
	byData map[string]*wire.Entropy
	latest *wire.Entropy
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{byData: make(map[string]*wire.Entropy)} }

// Put implements Store.
func (s *MemStore) Put(e *wire.Entropy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byData[string(e.GetData())] = e
	s.latest = e
	return nil
}

// Get implements Store.
func (s *MemStore) Get(data []byte) (*wire.Entropy, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.byData[string(data)]; ok {
		return e, nil
	}
	return nil, ErrNotFound
}

// Latest implements Store.
func (s *MemStore) Latest() (*wire.Entropy, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.latest == nil {
		return nil, ErrNotFound
	}
	return s.latest, nil
}

// SpaceStore is a Store in a Pebble key space: "d/" ‖ data → Entropy, and
// "latest" → data. Writes are synced.
type SpaceStore struct {
	sp *store.Space
}

// NewSpaceStore returns a Store kept in sp.
func NewSpaceStore(sp *store.Space) *SpaceStore { return &SpaceStore{sp: sp} }

var latestKey = []byte("latest")

func dataKey(data []byte) []byte { return append([]byte("d/"), data...) }

// Put implements Store.
func (s *SpaceStore) Put(e *wire.Entropy) error {
	b, err := wire.Marshal(e)
	if err != nil {
		return err
	}
	batch, err := s.sp.NewBatch()
	if err != nil {
		return err
	}
	defer batch.Close()
	if err := batch.Set(dataKey(e.GetData()), b); err != nil {
		return err
	}
	if err := batch.Set(latestKey, e.GetData()); err != nil {
		return err
	}
	return batch.Commit(true)
}

// Get implements Store.
func (s *SpaceStore) Get(data []byte) (*wire.Entropy, error) {
	if len(data) != DataSize {
		return nil, ErrNotFound
	}
	b, err := s.sp.Get(dataKey(data))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	e := &wire.Entropy{}
	if err := wire.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("entropy: stored value: %w", err)
	}
	return e, nil
}

// Latest implements Store.
func (s *SpaceStore) Latest() (*wire.Entropy, error) {
	d, err := s.sp.Get(latestKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Get(d)
}

// Timestamps adapts a Store to the verifier's entropy lookup
// (verify.Entropies): the timestamp of a kept value by its data. A store
// error reads as unknown entropy.
type Timestamps struct{ Store Store }

// EntropyTimestamp returns the timestamp of the entropy with the given data.
func (t Timestamps) EntropyTimestamp(data []byte) (int64, bool) {
	e, err := t.Store.Get(data)
	if err != nil {
		return 0, false
	}
	return e.GetTimestamp(), true
}
