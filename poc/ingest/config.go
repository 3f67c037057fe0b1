package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/wire"
)

// Config holds the ingest settings, each with its default.
type Config struct {
	// MaxReportSize is the largest report accepted, in bytes; larger is
	// oversize: 4096 (the wire limit).
	MaxReportSize int `toml:"max_report_size"`
	// MaxBatch is how many concurrent reports one admission round checks
	// and commits together (one batch signature verification, one synced
	// store batch): 256.
	MaxBatch int `toml:"max_batch"`
	// QueueSize bounds the queue of accepted reports toward the verifier;
	// a full queue drops (counted, reason queue_full) and the dropped
	// reports, already persisted, are reloaded from the store: 65536.
	QueueSize int `toml:"queue_size"`
	// WindowMargin is added to the verifier's witness lag (4 s) after a
	// beacon's receive time before its group is judged: 1 s.
	WindowMargin time.Duration `toml:"window_margin"`
	// BeaconWait is how long a witness that arrived before its beacon waits
	// for it; then it is beacon_not_found. Also how long a judged beacon is
	// remembered, so a later witness is too_late: 10 s.
	BeaconWait time.Duration `toml:"beacon_wait"`
	// MaxWaiting bounds the witnesses waiting for their beacon; beyond it a
	// new orphan witness is beacon_not_found at once: 100000.
	MaxWaiting int `toml:"max_waiting"`
	// DedupTTL is how long a report's hash is remembered to drop
	// redeliveries and replays (a replay after it fails the entropy
	// window anyway): 1 h. Hashes are deleted in 5-minute buckets, so one
	// stays on disk up to 5 minutes longer, no longer refusing anything.
	DedupTTL time.Duration `toml:"dedup_ttl"`
	// DedupFilterBits is the size, per generation, of the in-memory filter
	// that spares the store lookup for a report hash never seen (a power of
	// two; two generations are kept; 0 turns it off): 2^26 (8 MiB), under 1 %
	// false positives up to about 8 million reports per DedupTTL.
	DedupFilterBits int `toml:"dedup_filter_bits"`
	// SweepInterval is how often the dedup buckets that have expired
	// since the last sweep are deleted: 1 min.
	SweepInterval time.Duration `toml:"sweep_interval"`
	// TickInterval is how often, on the clock, due windows are judged when
	// no report arrives: 250 ms.
	TickInterval time.Duration `toml:"tick_interval"`
	// EpochLength is the reward epoch: units go to epoch
	// floor(beacon receive time / EpochLength) (Unix time): 24 h.
	EpochLength time.Duration `toml:"epoch_length"`
	// ReplayWindow is how far back stored results are replayed at start to
	// rebuild the reciprocity history and the density map; it must cover
	// the verifier's reciprocity window (48 h) and the density interactive
	// window (60 h): 60 h.
	ReplayWindow time.Duration `toml:"replay_window"`
	// ResultRetention is how long a verdict stays stored and queryable;
	// older results and their index entries are deleted once an hour. It
	// must cover ReplayWindow; 0 keeps results for ever: 720 h (30 days).
	ResultRetention time.Duration `toml:"result_retention"`
	// KeyCacheSize is how many hotspots' expanded public keys are kept for
	// signature checks: 100000.
	KeyCacheSize int `toml:"key_cache_size"`
	// MaxQueryLimit caps the limit of the per-hotspot query API: 1000
	// (default limit 50).
	MaxQueryLimit int `toml:"max_query_limit"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxReportSize:   wire.MaxMessageSize,
		MaxBatch:        256,
		QueueSize:       65536,
		WindowMargin:    time.Second,
		BeaconWait:      10 * time.Second,
		MaxWaiting:      100_000,
		DedupTTL:        time.Hour,
		DedupFilterBits: 1 << 26,
		SweepInterval:   time.Minute,
		TickInterval:    250 * time.Millisecond,
		EpochLength:     24 * time.Hour,
		ReplayWindow:    60 * time.Hour,
		ResultRetention: 30 * 24 * time.Hour,
		KeyCacheSize:    100_000,
		MaxQueryLimit:   1000,
	}
}

// ErrBadConfig is returned by Validate.
var ErrBadConfig = errors.New("ingest: bad config")

// Validate checks the config.
func (c Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+f, append([]any{ErrBadConfig}, a...)...))
	}
	if c.MaxReportSize <= 0 || c.MaxReportSize > wire.MaxMessageSize {
		bad("max_report_size %d not in 1..%d", c.MaxReportSize, wire.MaxMessageSize)
	}
	if c.DedupFilterBits != 0 && (c.DedupFilterBits < 1024 || c.DedupFilterBits&(c.DedupFilterBits-1) != 0) {
		bad("dedup_filter_bits %d must be 0 or a power of two >= 1024", c.DedupFilterBits)
	}
	if c.MaxBatch < 1 {
		bad("max_batch %d < 1", c.MaxBatch)
	}
	if c.QueueSize < 1 {
		bad("queue_size %d < 1", c.QueueSize)
	}
	if c.WindowMargin < 0 {
		bad("window_margin %v < 0", c.WindowMargin)
	}
	if c.BeaconWait <= 0 {
		bad("beacon_wait %v <= 0", c.BeaconWait)
	}
	if c.MaxWaiting < 1 {
		bad("max_waiting %d < 1", c.MaxWaiting)
	}
	if c.DedupTTL <= 0 {
		bad("dedup_ttl %v <= 0", c.DedupTTL)
	}
	if c.SweepInterval <= 0 {
		bad("sweep_interval %v <= 0", c.SweepInterval)
	}
	if c.TickInterval <= 0 {
		bad("tick_interval %v <= 0", c.TickInterval)
	}
	if c.EpochLength < time.Second {
		bad("epoch_length %v < 1s", c.EpochLength)
	}
	if c.ReplayWindow <= 0 {
		bad("replay_window %v <= 0", c.ReplayWindow)
	}
	if c.ResultRetention < 0 || (c.ResultRetention > 0 && c.ResultRetention < c.ReplayWindow) {
		bad("result_retention %v must be 0 (for ever) or cover replay_window %v", c.ResultRetention, c.ReplayWindow)
	}
	if c.KeyCacheSize < 1 {
		bad("key_cache_size %d < 1", c.KeyCacheSize)
	}
	if c.MaxQueryLimit < 1 {
		bad("max_query_limit %d < 1", c.MaxQueryLimit)
	}
	return errors.Join(errs...)
}
