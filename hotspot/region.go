package hotspot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
)

func parseRegion(name string) (wire.Region, error) {
	r, err := lorawan.ParseRegion(name)
	if err != nil {
		return wire.Region_REGION_UNKNOWN, fmt.Errorf("hotspot: region %q: %w", name, err)
	}
	return r, nil
}

func regionName(r wire.Region) string {
	if reg, err := lorawan.RegionByID(r); err == nil {
		return reg.Name
	}
	return ""
}

// currentRegion is the local override, else what the network said, else unknown.
func (a *Agent) currentRegion() wire.Region {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.region
}

// antennaGain is the asserted antenna gain (dBi × 10) from the network's region parameters.
func (a *Agent) antennaGain() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.params == nil {
		return 0
	}
	return a.params.GetAntennaGainDbiX10()
}

func (a *Agent) regionCachePath() string { return filepath.Join(a.cfg.DataDir, "region.pb") }

// onConfig takes signed region parameters from the network and caches them on disk.
func (a *Agent) onConfig(b []byte) {
	p, err := a.checkRegionParams(b)
	if err != nil {
		a.log.Warn("region parameters rejected", "err", err)
		return
	}
	a.mu.Lock()
	a.params = p
	if a.cfg.Region == "" {
		a.region = p.GetRegion()
	}
	a.mu.Unlock()
	if err := writeFileAtomic(a.regionCachePath(), b); err != nil {
		a.log.Warn("cache region", "err", err)
	}
	a.log.Info("region parameters received", "region", regionName(p.GetRegion()), "gain_dbi_x10", p.GetAntennaGainDbiX10())
}

func (a *Agent) checkRegionParams(b []byte) (*wire.RegionParams, error) {
	var p wire.RegionParams
	if err := wire.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if a.configKey == nil {
		return nil, errors.New("network.config is not configured; region parameters cannot be trusted")
	}
	if !bytes.Equal(p.GetSigner(), a.configKey[:]) {
		return nil, errors.New("region parameters not signed by the network config key")
	}
	if err := identity.Verify(&p, *a.configKey); err != nil {
		return nil, err
	}
	if !bytes.Equal(p.GetHotspot(), a.key.Public().Bytes()) {
		return nil, errors.New("region parameters for another hotspot")
	}
	if _, err := lorawan.RegionByID(p.GetRegion()); err != nil {
		return nil, err
	}
	return &p, nil
}

// loadRegionCache reads the last region parameters the network sent (already verified when cached).
func loadRegionCache(path string) (wire.Region, *wire.RegionParams, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return wire.Region_REGION_UNKNOWN, nil, err
	}
	var p wire.RegionParams
	if err := wire.Unmarshal(b, &p); err != nil {
		return wire.Region_REGION_UNKNOWN, nil, err
	}
	return p.GetRegion(), &p, nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
