package ledger

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
)

// Config is the ledger's configuration. Amounts of tokens are in base units;
// amounts of data credits (DC) are whole DC (1 DC = $0.00001).
type Config struct {
	Network     string   `toml:"network" help:"network name written into genesis"`
	Admin       string   `toml:"admin" help:"address of the network admin key (registers and revokes makers)"`
	Allocations []string `toml:"allocations" help:"genesis allocations, each ADDRESS=TOKENS or ADDRESS=TOKENS:DC"`

	EpochLength    time.Duration `toml:"epoch_length" help:"length of a reward epoch"`
	CloseDelay     time.Duration `toml:"close_delay" help:"how long after its end an epoch is closed (late PoC and usage reports)"`
	CheckInterval  time.Duration `toml:"check_interval" help:"how often Run checks whether an epoch is due"`
	TokensPerEpoch uint64        `toml:"tokens_per_epoch" help:"token base units emitted per epoch"`
	BeaconBP       uint32        `toml:"beacon_bp" help:"share of the emission for beacons, basis points"`
	WitnessBP      uint32        `toml:"witness_bp" help:"share of the emission for witnesses, basis points"`
	DataBP         uint32        `toml:"data_bp" help:"share of the emission for data transfer, basis points"`
	OperationsBP   uint32        `toml:"operations_bp" help:"share of the emission for operations, basis points"`
	OraclesBP      uint32        `toml:"oracles_bp" help:"share of the emission for oracles, basis points"`
	Operations     string        `toml:"operations" help:"address paid the operations share (empty: kept)"`
	Oracles        string        `toml:"oracles" help:"address paid the oracles share (empty: the oracle key's address)"`

	DCPrice       uint64 `toml:"dc_price" help:"token base units burned per data credit"`
	OnboardFeeDC  uint64 `toml:"onboard_fee_dc" help:"onboarding fee in DC, paid by the maker"`
	LocationFeeDC uint64 `toml:"location_fee_dc" help:"location assertion fee in DC, paid by the owner when the cell changes"`
	OUIFeeDC      uint64 `toml:"oui_fee_dc" help:"OUI creation fee in DC, paid by the OUI owner"`
	MinGain       int32  `toml:"min_gain" help:"lowest antenna gain accepted, dBi x 10"`
	MaxGain       int32  `toml:"max_gain" help:"highest antenna gain accepted, dBi x 10"`
	MinElevation  int32  `toml:"min_elevation" help:"lowest elevation accepted, metres"`
	MaxElevation  int32  `toml:"max_elevation" help:"highest elevation accepted, metres"`

	NetID         string `toml:"net_id" help:"LoRaWAN NetID (6 hex digits) whose DevAddr space OUIs get blocks of"`
	BlockSize     uint32 `toml:"block_size" help:"DevAddrs in the block a new OUI receives"`
	MaxCopiesMax  uint32 `toml:"max_copies_max" help:"highest max_copies an OUI may set"`
	MaxEUIsPerOUI int    `toml:"max_euis_per_oui" help:"most EUI pairs one OUI may hold"`
}

// Defaults of Config.
const (
	DefaultEpochLength    = 24 * time.Hour
	DefaultCheckInterval  = time.Second
	DefaultTokensPerEpoch = 1_000_000 * 100_000_000 // one million tokens of 10^8 base units
	DefaultDCPrice        = 1000
	DefaultOnboardFeeDC   = 4_000_000  // $40
	DefaultLocationFeeDC  = 1_000_000  // $10
	DefaultOUIFeeDC       = 10_000_000 // $100
	DefaultBlockSize      = 64
	DefaultNetID          = "000000"
)

// DefaultConfig returns the production defaults (24 h epochs, DESIGN.md §7 schedule).
func DefaultConfig() Config {
	return Config{
		Network:        "devnet",
		EpochLength:    DefaultEpochLength,
		CloseDelay:     10 * time.Minute,
		CheckInterval:  DefaultCheckInterval,
		TokensPerEpoch: DefaultTokensPerEpoch,
		BeaconBP:       600,
		WitnessBP:      2400,
		DataBP:         5000,
		OperationsBP:   700,
		OraclesBP:      700,
		DCPrice:        DefaultDCPrice,
		OnboardFeeDC:   DefaultOnboardFeeDC,
		LocationFeeDC:  DefaultLocationFeeDC,
		OUIFeeDC:       DefaultOUIFeeDC,
		MinGain:        10,
		MaxGain:        150,
		MinElevation:   -500,
		MaxElevation:   10_000,
		NetID:          DefaultNetID,
		BlockSize:      DefaultBlockSize,
		MaxCopiesMax:   100,
		MaxEUIsPerOUI:  4096,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, err := identity.ParseAddress(c.Admin); err != nil {
		return fmt.Errorf("ledger: config admin: %w", err)
	}
	if _, err := c.allocations(); err != nil {
		return err
	}
	if c.EpochLength < time.Second {
		return fmt.Errorf("ledger: config epoch_length %s below 1s", c.EpochLength)
	}
	if c.CloseDelay < 0 || c.CloseDelay >= c.EpochLength {
		return fmt.Errorf("ledger: config close_delay %s must be in [0, epoch_length)", c.CloseDelay)
	}
	if sum := uint64(c.BeaconBP) + uint64(c.WitnessBP) + uint64(c.DataBP) + uint64(c.OperationsBP) + uint64(c.OraclesBP); sum > 10_000 {
		return fmt.Errorf("ledger: config schedule sums to %d basis points, above 10000", sum)
	}
	for _, a := range []string{c.Operations, c.Oracles} {
		if a == "" {
			continue
		}
		if _, err := identity.ParseAddress(a); err != nil {
			return fmt.Errorf("ledger: config reward address: %w", err)
		}
	}
	if c.DCPrice == 0 {
		return fmt.Errorf("ledger: config dc_price must be positive")
	}
	if c.MinGain > c.MaxGain || c.MinElevation > c.MaxElevation {
		return fmt.Errorf("ledger: config gain or elevation bounds inverted")
	}
	if _, err := parsePool(c.NetID, c.BlockSize); err != nil {
		return err
	}
	if c.MaxCopiesMax == 0 || c.MaxEUIsPerOUI <= 0 {
		return fmt.Errorf("ledger: config max_copies_max and max_euis_per_oui must be positive")
	}
	return nil
}

// allocations parses the Allocations strings.
func (c Config) allocations() ([]allocation, error) {
	out := make([]allocation, 0, len(c.Allocations))
	for _, s := range c.Allocations {
		addr, amounts, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("ledger: allocation %q: want ADDRESS=TOKENS[:DC]", s)
		}
		pk, err := identity.ParseAddress(strings.TrimSpace(addr))
		if err != nil {
			return nil, fmt.Errorf("ledger: allocation %q: %w", s, err)
		}
		tok, dc, hasDC := strings.Cut(amounts, ":")
		a := allocation{pk: pk}
		if a.tokens, err = strconv.ParseUint(strings.TrimSpace(tok), 10, 64); err != nil {
			return nil, fmt.Errorf("ledger: allocation %q tokens: %w", s, err)
		}
		if hasDC {
			if a.dc, err = strconv.ParseUint(strings.TrimSpace(dc), 10, 64); err != nil {
				return nil, fmt.Errorf("ledger: allocation %q dc: %w", s, err)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

type allocation struct {
	pk         identity.PublicKey
	tokens, dc uint64
}

// netID parses six hex digits.
func parseNetID(s string) ([3]byte, error) {
	var n [3]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 3 {
		return n, fmt.Errorf("ledger: config net_id %q: want 6 hex digits", s)
	}
	copy(n[:], b)
	return n, nil
}
