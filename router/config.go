package router

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Config tunes the router. The zero value of a field takes its default.
type Config struct {
	// Workers is the number of pipeline workers; copies of one packet always
	// land on the same worker (by topic partition). Default: half the CPUs
	// the process may use (GOMAXPROCS), at least one. The broker beside the
	// router needs about as much CPU as the router, and fewer workers check
	// signatures in larger batches, which cost less per signature (about
	// 22 µs in batches of 16, 16.6 µs in batches of 64 and 14 µs in
	// batches of 256: BenchmarkVerify in internal/identity).
	Workers int `toml:"workers" help:"pipeline workers (0: half the CPUs, at least 1)"`
	// QueueSize bounds each worker's ingress queue. Default 4096.
	QueueSize int `toml:"queue_size"`
	// EnqueueTimeout is how long Handle waits for room in a full ingress
	// queue before it drops the message with reason queue_full. While it
	// waits, the MQTT client's message goroutine is blocked, so the QoS 1
	// PUBACK is held back and the broker stops sending (TCP backpressure)
	// instead of the router acknowledging messages it then discards.
	// Default 1 s; a negative value drops at once.
	EnqueueTimeout time.Duration `toml:"enqueue_timeout"`
	// DestQueueSize bounds each destination's queue. Default 1024.
	DestQueueSize int `toml:"dest_queue_size"`
	// DedupWindow is how long after the first copy later copies are still
	// bought (up to max_copies) and count for downlink hotspot selection.
	// The first copy is forwarded at once. Default 200 ms.
	DedupWindow time.Duration `toml:"dedup_window"`
	// GroupTTL is how long a packet's copies are remembered, so that late
	// copies are dropped (late_copy) instead of bought as a new packet, and
	// downlinks can find the best hotspot. Default 10 s.
	GroupTTL time.Duration `toml:"group_ttl"`
	// ReplayWindow is how long a (hotspot, packet) pair is remembered to
	// drop exact repeats (replay). Billing is idempotent beyond it. Default 10 s.
	ReplayWindow time.Duration `toml:"replay_window"`
	// RateLimit is each hotspot's sustained uplink rate (per second) and
	// RateBurst its bucket size. Defaults 10/s and 50.
	RateLimit float64 `toml:"rate_limit"`
	RateBurst float64 `toml:"rate_burst"`
	// JoinCost is the DC charged per purchased join-request copy. Default 1.
	JoinCost uint64 `toml:"join_cost"`
	// EpochDuration divides time into reward epochs (epoch = unix / duration). Default 24 h.
	EpochDuration time.Duration `toml:"epoch_duration"`
	// BackoffMin and BackoffMax bound a failing destination's back-off. Defaults 100 ms and 30 s.
	BackoffMin time.Duration `toml:"backoff_min"`
	BackoffMax time.Duration `toml:"backoff_max"`
	// SweepInterval is how often expired state is dropped. Default 1 s.
	SweepInterval time.Duration `toml:"sweep_interval"`
	// BatchWait is how long a worker that took one uplink waits for more
	// before checking their signatures in one batch. A batch of one costs
	// about 35 µs a signature, one of 16 about 17 µs: under load the wait
	// buys back far more CPU than it adds latency (RX1 is 1 s after the
	// uplink). While a backlog lasts (the worker's previous batch held a
	// quarter of the 256 a batch may hold, or more) the worker waits four
	// times as long, so that batches fill and each signature costs less
	// (about 14 µs at 256). Default 1 ms; negative: no wait.
	BatchWait time.Duration `toml:"batch_wait"`
}

// Defaults of Config.
const (
	DefaultQueueSize      = 4096
	DefaultEnqueueTimeout = time.Second
	DefaultDestQueueSize  = 1024
	DefaultDedupWindow    = 200 * time.Millisecond
	DefaultGroupTTL       = 10 * time.Second
	DefaultReplayWindow   = 10 * time.Second
	DefaultRateLimit      = 10
	DefaultRateBurst      = 50
	DefaultJoinCost       = 1
	DefaultEpochDuration  = 24 * time.Hour
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultSweepInterval  = time.Second
	DefaultBatchWait      = time.Millisecond
)

// DefaultWorkers is the default of Config.Workers: GOMAXPROCS/2, at least 1.
func DefaultWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	set := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers()
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.DestQueueSize == 0 {
		c.DestQueueSize = DefaultDestQueueSize
	}
	set(&c.EnqueueTimeout, DefaultEnqueueTimeout)
	set(&c.DedupWindow, DefaultDedupWindow)
	set(&c.GroupTTL, DefaultGroupTTL)
	set(&c.ReplayWindow, DefaultReplayWindow)
	set(&c.EpochDuration, DefaultEpochDuration)
	set(&c.BackoffMin, DefaultBackoffMin)
	set(&c.BackoffMax, DefaultBackoffMax)
	set(&c.SweepInterval, DefaultSweepInterval)
	set(&c.BatchWait, DefaultBatchWait)
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.JoinCost == 0 {
		c.JoinCost = DefaultJoinCost
	}
	return c
}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("router: invalid config")

// Validate checks the config after defaults.
func (c Config) Validate() error {
	d := c.WithDefaults()
	switch {
	case d.Workers < 1 || d.Workers > 256:
		return fmt.Errorf("%w: workers %d not in 1..256", ErrConfig, d.Workers)
	case d.QueueSize < 1 || d.DestQueueSize < 1:
		return fmt.Errorf("%w: queue sizes must be positive", ErrConfig)
	case d.DedupWindow < 0 || d.GroupTTL < d.DedupWindow:
		return fmt.Errorf("%w: group_ttl %v must be at least dedup_window %v", ErrConfig, d.GroupTTL, d.DedupWindow)
	case d.ReplayWindow < 0 || d.EpochDuration <= 0 || d.SweepInterval <= 0:
		return fmt.Errorf("%w: non-positive window or interval", ErrConfig)
	case d.RateLimit < 0 || d.RateBurst < 1:
		return fmt.Errorf("%w: rate_limit %v / rate_burst %v", ErrConfig, d.RateLimit, d.RateBurst)
	case d.BackoffMin <= 0 || d.BackoffMax < d.BackoffMin:
		return fmt.Errorf("%w: backoff %v..%v", ErrConfig, d.BackoffMin, d.BackoffMax)
	}
	return nil
}
