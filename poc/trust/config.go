package trust

import (
	"errors"
	"fmt"
	"time"
)

// Config holds every number of the gaming detector, each with its default.
// The evidence equations are in the package documentation.
type Config struct {
	// Enforce applies trust to verdicts and rewards (ingest scales units by
	// Multiplier and marks flagged hotspots' verdicts); false computes and
	// shows trust but changes nothing (detection off, for comparison): true.
	Enforce bool `toml:"enforce"`

	// PathLossExponent is n of the reference link model
	// E[RSSI] = P_tx + G_b + G_w − FSPL(1 m, f) − 10·n·log10(d): 2.7
	// (suburban, DESIGN.md Appendix B).
	PathLossExponent float64 `toml:"path_loss_exponent"`
	// NoiseFloorDBm is the receiver noise floor N the SNR is measured
	// against (−174 + 10·log10(125 kHz) + NF 6): −117.
	NoiseFloorDBm float64 `toml:"noise_floor_dbm"`
	// ShadowingSigmaDB is σ of log-normal shadowing, the spread honest links
	// show around the model; a slope's standard error is never taken below
	// what it gives: 6 dB.
	ShadowingSigmaDB float64 `toml:"shadowing_sigma_db"`
	// SensitivityDBm is the weakest beacon RSSI a witness demodulates
	// (SF12 floor −20 dB above the noise floor): −137.
	SensitivityDBm float64 `toml:"sensitivity_dbm"`

	// Window is how many links (and expected links, and witness reports)
	// are kept per hotspot; older ones slide out: 256.
	Window int `toml:"window"`
	// PeerWindow is how many counterparts' link averages are kept per
	// hotspot for reciprocity (least recently seen evicted): 128.
	PeerWindow int `toml:"peer_window"`
	// MaxHotspots bounds the hotspots tracked (least recently seen
	// evicted): 1000000.
	MaxHotspots int `toml:"max_hotspots"`

	// SoftStart is the share of an evidence threshold from which the
	// evidence starts to lower trust (linearly up to half of its weight at
	// the threshold): 0.8.
	SoftStart float64 `toml:"soft_start"`

	// BiasDB: a hotspot whose peers' median residual RSSI − E[RSSI] is
	// further than this from 0 does not sit where it says (negative: a
	// spoofer heard from afar; positive: it or its peers report signals
	// too strong for the distance): 12 dB (2σ of shadowing).
	BiasDB float64 `toml:"bias_db"`
	// MinPeers is the number of distinct peers (each peer's links averaged
	// into one point, because a link's shadowing repeats on every report)
	// before the bias counts: 6.
	MinPeers int `toml:"min_peers"`
	// SlopeToleranceDB: the OLS slope of the peers' mean residual on
	// log10(d) (0 when RSSI falls with log-distance as the model says)
	// beyond this, in dB per decade, means the RSSI does not follow the
	// asserted distances: 15.
	SlopeToleranceDB float64 `toml:"slope_tolerance_db"`
	// SlopeZ: the slope counts only when |slope| / its standard error
	// (over peers, not reports; at least ShadowingSigmaDB / √Σ(x − x̄)²)
	// reaches this: 4.
	SlopeZ float64 `toml:"slope_z"`
	// SlopeMinSpread: the slope counts only when the peers' log10(d) has at
	// least this standard deviation (decades): 0.15.
	SlopeMinSpread float64 `toml:"slope_min_spread"`
	// MinSlopePeers is the number of distinct peers before the slope
	// counts: 12.
	MinSlopePeers int `toml:"min_slope_peers"`
	// SlopeTrimSigma: peers whose mean residual is further than this many
	// robust σ from the median are left out of the slope (one cheating peer
	// is its own evidence, not a slope): 3.
	SlopeTrimSigma float64 `toml:"slope_trim_sigma"`
	// TooGoodSigmaDB: links whose peers' mean residuals have an RMS at or
	// below this fit the model better than shadowing allows (fabricated
	// from asserted distances): 2 dB (shadowing σ is 6: an honest hotspot
	// with 15 peers falls this low about once in a million, with 10 peers
	// three times in 10,000 — too often over a network's rescorings).
	TooGoodSigmaDB float64 `toml:"too_good_sigma_db"`
	// MinFitPeers is the number of distinct peers before the too-good fit
	// counts: 15.
	MinFitPeers int `toml:"min_fit_peers"`

	// SNRCeilingDB: links whose implied SNR RSSI − N exceeds this are not
	// checked for a low SNR (a demodulator's SNR saturates near +10 dB): 10.
	SNRCeilingDB float64 `toml:"snr_ceiling_db"`
	// SNRGapDB: a witness whose median SNR − (RSSI − N) is further than this
	// from 0 reports an RSSI its SNR and the noise floor deny: 8 dB.
	SNRGapDB float64 `toml:"snr_gap_db"`
	// MinSNRLinks is the number of checked witness links before the gap
	// counts: 5.
	MinSNRLinks int `toml:"min_snr_links"`

	// AsymmetryDB: the median over peers of (how well it hears the peer −
	// how well the peer hears it), in residual dB, beyond this: 8 dB.
	AsymmetryDB float64 `toml:"asymmetry_db"`
	// MinPairs is the number of peers heard both ways before asymmetry
	// counts: 5.
	MinPairs int `toml:"min_pairs"`

	// SilenceMarginDB: a beacon is expected at an active hotspot when the
	// model puts its RSSI this far above SensitivityDBm (3.3σ of
	// shadowing: missed by chance 1 in 2000): 20 dB.
	SilenceMarginDB float64 `toml:"silence_margin_db"`
	// SilenceShare: a hotspot that misses (or is missed on) more than this
	// share of its expected links, counting only unflagged peers, is not
	// on the air where it says (a ring, or a spoofer): 0.6.
	SilenceShare float64 `toml:"silence_share"`
	// SilenceMaxWeight caps the weight of silence: on its own it lowers trust
	// to no less than 1 − this, above FlagTrust, because beacons lost to
	// collisions (a burst of beacons on few channels) and congestion are
	// silence too; with any other evidence it can flag. The cap does not
	// apply to a closed group (see RingMaxSize): 0.6.
	SilenceMaxWeight float64 `toml:"silence_max_weight"`
	// MinExpected is the number of expected links before silence counts: 10.
	MinExpected int `toml:"min_expected"`
	// ActiveWindow: a hotspot is a candidate witness when it sent a witness
	// report within this window before the beacon: 12 h.
	ActiveWindow time.Duration `toml:"active_window"`
	// RingMaxSize, RingShare and RingMinLinks: a hotspot whose witnessed
	// links come for at least RingShare, and at least RingMinLinks of them,
	// from at most RingMaxSize hotspots reports a closed group (a hotspot
	// that has barely heard anything yet does not); silent towards the
	// other active hotspots in range, it is a ring (suspected_ring), and
	// its silence is not capped: 5, 0.8 and 8.
	RingMaxSize  int     `toml:"ring_max_size"`
	RingShare    float64 `toml:"ring_share"`
	RingMinLinks int     `toml:"ring_min_links"`

	// CopyShare: a hotspot more than this share of whose witness reports
	// repeat an earlier witness's exact RSSI and SNR for the same beacon, or
	// are a second report for one beacon, copies others' reports: 0.25.
	CopyShare float64 `toml:"copy_share"`
	// MinReports is the number of witness reports before copying counts: 20.
	MinReports int `toml:"min_reports"`

	// MinEvidence is the number of observations (links and expected links)
	// before a hotspot leaves probation: 20 (as many as copying needs, so a replayer cannot leave probation before its copies can be judged).
	MinEvidence int `toml:"min_evidence"`
	// ProbationTrust caps the trust of a hotspot in probation: 0.43
	// (multiplier 0.26 with the defaults). New hotspots earn little until
	// their links show they are where they say; because each epoch's
	// emission is shared by units, the cost to honest hotspots is what
	// probation withholds from them relative to others, not the multiplier.
	ProbationTrust float64 `toml:"probation_trust"`
	// SoftTrust: trust at or above earns the full reward (multiplier 1): 0.8.
	SoftTrust float64 `toml:"soft_trust"`
	// FlagTrust: trust below is flagged (multiplier 0, verdicts marked
	// suspected_*); between FlagTrust and SoftTrust the multiplier is
	// linear: 0.3.
	FlagTrust float64 `toml:"flag_trust"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Enforce:          true,
		PathLossExponent: 2.7,
		NoiseFloorDBm:    -117,
		SensitivityDBm:   -137,
		ShadowingSigmaDB: 6,
		Window:           256,
		PeerWindow:       128,
		MaxHotspots:      1_000_000,
		SoftStart:        0.8,
		BiasDB:           12,
		MinPeers:         6,
		SlopeToleranceDB: 15,
		SlopeZ:           4,
		SlopeMinSpread:   0.15,
		MinSlopePeers:    12,
		SlopeTrimSigma:   3,
		TooGoodSigmaDB:   2,
		MinFitPeers:      15,
		SNRCeilingDB:     10,
		SNRGapDB:         8,
		MinSNRLinks:      5,
		AsymmetryDB:      8,
		MinPairs:         5,
		SilenceMarginDB:  20,
		SilenceShare:     0.6,
		MinExpected:      10,
		ActiveWindow:     12 * time.Hour,
		RingMaxSize:      5,
		RingShare:        0.8,
		RingMinLinks:     8,
		CopyShare:        0.25,
		MinReports:       20,
		SilenceMaxWeight: 0.6,
		MinEvidence:      20,
		ProbationTrust:   0.43,
		SoftTrust:        0.8,
		FlagTrust:        0.3,
	}
}

// ErrBadConfig is returned by Validate.
var ErrBadConfig = errors.New("trust: bad config")

// Validate checks the config.
func (c Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+f, append([]any{ErrBadConfig}, a...)...))
	}
	pos := map[string]float64{
		"path_loss_exponent": c.PathLossExponent, "shadowing_sigma_db": c.ShadowingSigmaDB, "bias_db": c.BiasDB, "slope_tolerance_db": c.SlopeToleranceDB,
		"slope_z": c.SlopeZ, "too_good_sigma_db": c.TooGoodSigmaDB, "snr_gap_db": c.SNRGapDB,
		"asymmetry_db": c.AsymmetryDB, "slope_trim_sigma": c.SlopeTrimSigma, "ring_share": c.RingShare, "silence_share": c.SilenceShare, "copy_share": c.CopyShare,
	}
	for k, v := range pos {
		if !(v > 0) {
			bad("%s %v must be > 0", k, v)
		}
	}
	if c.SlopeMinSpread < 0 || c.SilenceMarginDB < 0 {
		bad("slope_min_spread and silence_margin_db must be >= 0")
	}
	if c.SilenceMaxWeight <= 0 || c.SilenceMaxWeight > 1 {
		bad("silence_max_weight %v must be in (0, 1]", c.SilenceMaxWeight)
	}
	if c.SilenceShare > 1 || c.CopyShare > 1 || c.RingShare > 1 {
		bad("silence_share %v, copy_share %v and ring_share %v must be <= 1", c.SilenceShare, c.CopyShare, c.RingShare)
	}
	ints := map[string]int{
		"window": c.Window, "peer_window": c.PeerWindow, "max_hotspots": c.MaxHotspots, "min_peers": c.MinPeers,
		"min_slope_peers": c.MinSlopePeers, "min_fit_peers": c.MinFitPeers, "min_snr_links": c.MinSNRLinks, "min_pairs": c.MinPairs,
		"min_expected": c.MinExpected, "ring_max_size": c.RingMaxSize, "ring_min_links": c.RingMinLinks, "min_reports": c.MinReports, "min_evidence": c.MinEvidence,
	}
	for k, v := range ints {
		if v < 1 {
			bad("%s %d must be >= 1", k, v)
		}
	}
	if c.MinSlopePeers < 3 {
		bad("min_slope_peers %d must be >= 3", c.MinSlopePeers)
	}
	if c.ActiveWindow <= 0 {
		bad("active_window %v must be > 0", c.ActiveWindow)
	}
	if !(c.SoftStart > 0 && c.SoftStart < 1) {
		bad("soft_start %v not in (0,1)", c.SoftStart)
	}
	if !(c.FlagTrust > 0 && c.FlagTrust < c.SoftTrust && c.SoftTrust <= 1) {
		bad("need 0 < flag_trust %v < soft_trust %v <= 1", c.FlagTrust, c.SoftTrust)
	}
	if !(c.ProbationTrust >= c.FlagTrust && c.ProbationTrust <= 1) {
		bad("probation_trust %v not in [flag_trust, 1]", c.ProbationTrust)
	}
	return errors.Join(errs...)
}

// Multiplier maps a trust score to its reward multiplier: 1 at or above
// SoftTrust, 0 below FlagTrust, linear between.
func (c Config) Multiplier(score float64) float64 {
	switch {
	case score >= c.SoftTrust:
		return 1
	case score < c.FlagTrust:
		return 0
	}
	return (score - c.FlagTrust) / (c.SoftTrust - c.FlagTrust)
}
