// Package devnet runs the whole hexnet network in one process over a
// simulated radio: the network side (broker, store, PoC, router, ledger,
// maps), real hotspot agents whose packet forwarders are simulated gateways
// on a shared medium, simulated devices with a device maker's OUI and LNS,
// and cheaters the network is not told about (DESIGN.md §10).
package devnet

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hexnet/hexnet/internal/radio"
)

//go:embed scenarios/*.toml
var builtins embed.FS

// Scenario describes a devnet run. Built-ins: small, city, cheaters.
type Scenario struct {
	Name        string        `toml:"name"`
	Seed        uint64        `toml:"seed"`         // every random choice of the run (placement, shadowing, cheaters)
	Region      string        `toml:"region"`       // e.g. EU868
	Speedup     float64       `toml:"speedup"`      // simulated seconds per real second
	Start       time.Time     `toml:"start"`        // simulated start time; zero = now
	EpochLength time.Duration `toml:"epoch_length"` // reward epoch, simulated time
	Emission    uint64        `toml:"emission"`     // tokens emitted per epoch

	Hotspots HotspotsSpec `toml:"hotspots"`
	Devices  DevicesSpec  `toml:"devices"`
	Cheaters CheatersSpec `toml:"cheaters"`
	PoC      PoCSpec      `toml:"poc"`
	Radio    RadioSpec    `toml:"radio"`
}

// HotspotsSpec places the honest hotspots.
type HotspotsSpec struct {
	Count     int          `toml:"count"`
	CenterLat float64      `toml:"center_lat"`
	CenterLng float64      `toml:"center_lng"`
	RadiusM   float64      `toml:"radius_m"`
	Coords    [][2]float64 `toml:"coords"` // explicit [lat, lng] list; overrides count/centre/radius
	GainDBi   float64      `toml:"gain_dbi"`
	HeightM   float64      `toml:"height_m"`
}

// DevicesSpec describes the device maker's simulated devices.
type DevicesSpec struct {
	Count          int           `toml:"count"`
	UplinkInterval time.Duration `toml:"uplink_interval"` // simulated time between uplinks
	MovingShare    float64       `toml:"moving_share"`    // share of devices moving along routes
	GPSShare       float64       `toml:"gps_share"`       // share carrying GPS (mappers)
	SpeedMps       float64       `toml:"speed_mps"`
	DC             uint64        `toml:"dc"` // data credits delegated to the maker's OUI
}

// CheatersSpec counts each kind of cheater.
type CheatersSpec struct {
	Spoof     int     `toml:"spoof"`      // asserts a location far from where it is
	SpoofKM   float64 `toml:"spoof_km"`   // how far
	Ring      int     `toml:"ring"`       // members of witness rings (fabricate witnesses for each other)
	RingSize  int     `toml:"ring_size"`  // members per ring
	RSSIForge int     `toml:"rssi_forge"` // report RSSI they did not measure
	Replay    int     `toml:"replay"`     // resend others' witness reports as their own
}

// PoCSpec overrides PoC timing for the simulated clock.
type PoCSpec struct {
	BeaconInterval  time.Duration `toml:"beacon_interval"`  // default 6h
	EntropyInterval time.Duration `toml:"entropy_interval"` // default 60s
	DetectionOff    bool          `toml:"detection_off"`    // compute trust but do not act on it (the baseline verifier alone)
}

// RadioSpec overrides the radio model's defaults.
type RadioSpec struct {
	PathLossExponent float64 `toml:"path_loss_exponent"`
	ShadowingSigma   float64 `toml:"shadowing_sigma"`
	NoiseFigure      float64 `toml:"noise_figure"`
}

// Model returns the radio model with the scenario's overrides.
func (s *Scenario) Model() radio.Model {
	m := radio.DefaultModel()
	if s.Radio.PathLossExponent > 0 {
		m.PathLossExponent = s.Radio.PathLossExponent
	}
	if s.Radio.ShadowingSigma > 0 {
		m.ShadowingSigma = s.Radio.ShadowingSigma
	}
	if s.Radio.NoiseFigure > 0 {
		m.NoiseFigure = s.Radio.NoiseFigure
	}
	m.Seed = s.Seed
	return m
}

// Builtins lists the names of the built-in scenarios.
func Builtins() []string {
	ents, _ := builtins.ReadDir("scenarios")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".toml"))
	}
	return out
}

// LoadScenario reads a built-in scenario by name, or a TOML file by path.
func LoadScenario(nameOrFile string) (*Scenario, error) {
	b, err := builtins.ReadFile("scenarios/" + nameOrFile + ".toml")
	if err != nil {
		if b, err = os.ReadFile(nameOrFile); err != nil {
			return nil, fmt.Errorf("devnet: scenario %q is neither built in (%s) nor a readable file: %w", nameOrFile, strings.Join(Builtins(), ", "), err)
		}
	}
	s := &Scenario{}
	md, err := toml.Decode(string(b), s)
	if err != nil {
		return nil, fmt.Errorf("devnet: scenario %s: %w", nameOrFile, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("devnet: scenario %s: unknown keys %v", nameOrFile, und)
	}
	s.defaults()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("devnet: scenario %s: %w", nameOrFile, err)
	}
	return s, nil
}

func (s *Scenario) defaults() {
	if s.Region == "" {
		s.Region = "EU868"
	}
	if s.Speedup == 0 {
		s.Speedup = 1
	}
	if s.EpochLength == 0 {
		s.EpochLength = 24 * time.Hour
	}
	if s.Emission == 0 {
		s.Emission = 1_000_000
	}
	if s.PoC.BeaconInterval == 0 {
		s.PoC.BeaconInterval = 6 * time.Hour
	}
	if s.PoC.EntropyInterval == 0 {
		s.PoC.EntropyInterval = time.Minute
	}
	if s.Hotspots.HeightM == 0 {
		s.Hotspots.HeightM = 10
	}
	if s.Devices.UplinkInterval == 0 {
		s.Devices.UplinkInterval = 15 * time.Minute
	}
	if s.Devices.SpeedMps == 0 {
		s.Devices.SpeedMps = 10
	}
	if s.Devices.DC == 0 {
		s.Devices.DC = 10_000_000
	}
	if s.Cheaters.SpoofKM == 0 {
		s.Cheaters.SpoofKM = 30
	}
	if s.Cheaters.RingSize == 0 {
		s.Cheaters.RingSize = 3
	}
}

// Validate checks the scenario.
func (s *Scenario) Validate() error {
	var errs []error
	if n := len(s.Hotspots.Coords); n == 0 && (s.Hotspots.Count <= 0 || s.Hotspots.RadiusM <= 0) {
		errs = append(errs, errors.New("hotspots: give coords, or count and radius_m"))
	}
	if s.Speedup <= 0 || s.Speedup > 100000 {
		errs = append(errs, fmt.Errorf("speedup %v out of (0, 100000]", s.Speedup))
	}
	if s.EpochLength < time.Second {
		errs = append(errs, fmt.Errorf("epoch_length %s below 1s", s.EpochLength))
	}
	if s.Devices.Count < 0 || s.Cheaters.Spoof < 0 || s.Cheaters.Ring < 0 || s.Cheaters.RSSIForge < 0 || s.Cheaters.Replay < 0 {
		errs = append(errs, errors.New("counts must not be negative"))
	}
	if s.Cheaters.Ring > 0 && s.Cheaters.RingSize < 2 {
		errs = append(errs, errors.New("cheaters.ring_size must be at least 2"))
	}
	if s.Devices.MovingShare < 0 || s.Devices.MovingShare > 1 || s.Devices.GPSShare < 0 || s.Devices.GPSShare > 1 {
		errs = append(errs, errors.New("devices: shares must be in [0, 1]"))
	}
	return errors.Join(errs...)
}
