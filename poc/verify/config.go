// Package verify holds the PoC verifier's rules (DESIGN.md §5, Appendix A)
// as pure functions over explicit inputs: a beacon report, its witness
// reports in arrival order with their server receive times, and read-only
// views of the hotspot registry, the entropy kept by the oracle, the
// reciprocity and schedule history, the denylist and the density scale.
// Every verdict carries one poc.Reason. The caller (poc/ingest) decodes,
// checks signatures (in batches), joins, persists, and records the results
// into the history.
package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/poc/rewards"
)

// Config holds every number of the verifier, each with its DESIGN.md default.
// Density parameters live in poc/density.Config.
type Config struct {
	// EntropyValidity is how long after its entropy's timestamp a report may
	// arrive (server receive time): 180 s.
	EntropyValidity time.Duration `toml:"entropy_validity"`
	// MaxClockSkew is how far before its entropy's timestamp a report may
	// arrive; earlier is bad_entropy: 5 s.
	MaxClockSkew time.Duration `toml:"max_clock_skew"`
	// BeaconInterval is the UTC-aligned schedule bucket: one beacon per
	// hotspot per bucket, more is irregular_interval: 6 h.
	BeaconInterval time.Duration `toml:"beacon_interval"`
	// WitnessLag is how long after the beacon report a witness may arrive: 4 s.
	WitnessLag time.Duration `toml:"witness_lag"`
	// WitnessLagAfterFirst is how long after the first witness a witness may
	// arrive when a witness came before the beacon report: 1.5 s.
	WitnessLagAfterFirst time.Duration `toml:"witness_lag_after_first"`
	// MaxFrequencyOffsetHz is the largest |witness − beacon| frequency: 100 kHz.
	MaxFrequencyOffsetHz uint64 `toml:"max_frequency_offset_hz"`
	// MinDistanceRes is the H3 resolution at which the grid distance between
	// beaconer and witness is measured: 11.
	MinDistanceRes int `toml:"min_distance_res"`
	// MinDistanceCells is the smallest grid distance at MinDistanceRes: 8 (~345 m).
	MinDistanceCells int `toml:"min_distance_cells"`
	// MinDistanceFallbackM is the smallest great-circle distance, used when
	// the grid distance cannot be computed (across a pentagon or an
	// icosahedron face): 345 m.
	MinDistanceFallbackM float64 `toml:"min_distance_fallback_m"`
	// MaxDistanceM is the largest beaconer–witness distance: 100 km.
	MaxDistanceM float64 `toml:"max_distance_m"`
	// RSSIMarginDB is added to the free-space RSSI ceiling: 0 dB.
	RSSIMarginDB float64 `toml:"rssi_margin_db"`
	// ReciprocityWindow (HIP-106): a beaconer must have made an otherwise
	// valid witness report, and a witness must have made an otherwise valid
	// beacon that drew an otherwise valid witness, within it: 48 h.
	ReciprocityWindow time.Duration `toml:"reciprocity_window"`
	// MaxRewardedWitnesses is how many valid witnesses, first in arrival
	// order, are rewarded: 14. Later valid witnesses are valid (reason_none)
	// and unrewarded.
	MaxRewardedWitnesses int `toml:"max_rewarded_witnesses"`
	// Rewards are the HIP-15 parameters.
	Rewards rewards.Config `toml:"rewards"`
}

// DefaultConfig returns DESIGN.md's defaults.
func DefaultConfig() Config {
	return Config{
		EntropyValidity:      180 * time.Second,
		MaxClockSkew:         5 * time.Second,
		BeaconInterval:       6 * time.Hour,
		WitnessLag:           4 * time.Second,
		WitnessLagAfterFirst: 1500 * time.Millisecond,
		MaxFrequencyOffsetHz: 100_000,
		MinDistanceRes:       11,
		MinDistanceCells:     8,
		MinDistanceFallbackM: 345,
		MaxDistanceM:         100_000,
		RSSIMarginDB:         0,
		ReciprocityWindow:    48 * time.Hour,
		MaxRewardedWitnesses: 14,
		Rewards:              rewards.DefaultConfig(),
	}
}

// ErrBadConfig is returned by Validate.
var ErrBadConfig = errors.New("verify: bad config")

// Validate checks the config.
func (c Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrBadConfig}, a...)...) }
	switch {
	case c.EntropyValidity <= 0:
		return bad("entropy validity %v", c.EntropyValidity)
	case c.MaxClockSkew < 0:
		return bad("max clock skew %v", c.MaxClockSkew)
	case c.BeaconInterval < time.Second:
		return bad("beacon interval %v", c.BeaconInterval)
	case c.WitnessLag <= 0 || c.WitnessLagAfterFirst <= 0:
		return bad("witness lag %v / %v", c.WitnessLag, c.WitnessLagAfterFirst)
	case c.MinDistanceRes < 0 || c.MinDistanceRes > 15 || c.MinDistanceCells < 0 || c.MinDistanceFallbackM < 0:
		return bad("min distance res %d cells %d fallback %v", c.MinDistanceRes, c.MinDistanceCells, c.MinDistanceFallbackM)
	case !(c.MaxDistanceM > c.MinDistanceFallbackM):
		return bad("max distance %v", c.MaxDistanceM)
	case c.ReciprocityWindow < 0:
		return bad("reciprocity window %v", c.ReciprocityWindow)
	case c.MaxRewardedWitnesses < 0:
		return bad("max rewarded witnesses %d", c.MaxRewardedWitnesses)
	}
	return c.Rewards.Validate()
}
