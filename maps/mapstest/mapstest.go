// Package mapstest generates a realistic synthetic network (hotspots with
// keys, names and locations, beacons with witnesses and verdicts, packets,
// rewards and mapper points) for the maps tests, benchmarks and the browser
// test, until the devnet feeds the maps from the real pipeline.
package mapstest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/maps"
)

// Config shapes the synthetic network.
type Config struct {
	// Hotspots is how many hotspots. Default 30.
	Hotspots int
	// Seed makes the network deterministic.
	Seed uint64
	// Lat, Lng is the centre. Default 52.37, 4.90.
	Lat, Lng float64
	// RadiusKm is how far hotspots spread from the centre. Default 12.
	RadiusKm float64
	// BeaconsPerHotspot is how many beacons each hotspot sends. Default 4.
	BeaconsPerHotspot int
	// MapperPoints is how many mapper uplinks. Default 200.
	MapperPoints int
	// Epochs is how many closed epochs with rewards. Default 3.
	Epochs int
	// Start is when the network's history begins. Default 2026-01-01 UTC.
	Start time.Time
}

func (c *Config) defaults() {
	if c.Hotspots == 0 {
		c.Hotspots = 30
	}
	if c.Lat == 0 && c.Lng == 0 {
		c.Lat, c.Lng = 52.37, 4.90
	}
	if c.RadiusKm == 0 {
		c.RadiusKm = 12
	}
	if c.BeaconsPerHotspot == 0 {
		c.BeaconsPerHotspot = 4
	}
	if c.MapperPoints == 0 {
		c.MapperPoints = 200
	}
	if c.Epochs == 0 {
		c.Epochs = 3
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
}

// Network is a generated network's events, in the order to feed them.
type Network struct {
	Hotspots []maps.HotspotInfo
	Beacons  []maps.BeaconEvent
	Packets  []maps.PacketEvent
	Scales   map[string]float64
	Epochs   []maps.EpochInfo
	Rewards  map[uint64]map[string]maps.RewardAmounts
	Mapper   []maps.MapperPoint
	// End is the time of the last event.
	End time.Time
}

// DistanceM is the great-circle distance between two points in metres.
func DistanceM(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371008.8
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lng2-lng1)*math.Pi/180
	h := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// rssiAt is a log-distance link budget at 868 MHz: 27 dBm EIRP, n = 2.9.
func rssiAt(d float64, shadow float64) float64 {
	d = math.Max(d, 10)
	fspl1m := 20 * math.Log10(4*math.Pi*868e6/2.998e8)
	return math.Round((27-fspl1m-29*math.Log10(d)+shadow)*10) / 10
}

func offset(lat, lng, dxKm, dyKm float64) (float64, float64) {
	return lat + dyKm/111.32, lng + dxKm/(111.32*math.Cos(lat*math.Pi/180))
}

// Generate builds the network deterministically from cfg.
func Generate(cfg Config) (*Network, error) {
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	n := &Network{Scales: map[string]float64{}, Rewards: map[uint64]map[string]maps.RewardAmounts{}}
	for i := 0; i < cfg.Hotspots; i++ {
		seed := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("mapstest"), cfg.Seed*1_000_003+uint64(i)))
		k, err := identity.FromSeed(seed[:])
		if err != nil {
			return nil, fmt.Errorf("mapstest: key: %w", err)
		}
		ang := rng.Float64() * 2 * math.Pi
		dist := cfg.RadiusKm * math.Sqrt(rng.Float64())
		lat, lng := offset(cfg.Lat, cfg.Lng, dist*math.Cos(ang), dist*math.Sin(ang))
		owner := fmt.Sprintf("owner-%d", i%5)
		n.Hotspots = append(n.Hotspots, maps.HotspotInfo{
			Address: string(k.Address()), Name: identity.Name(k.Public()), Owner: owner,
			Lat: lat, Lng: lng, GainDBiX10: int32(20 + 10*rng.IntN(5)), Elevation: int32(5 + rng.IntN(40)),
			Region: "EU868",
		})
		n.Scales[string(k.Address())] = math.Round((0.25+0.75*rng.Float64())*1e4) / 1e4
	}
	shadow := func(i, j int) float64 { // the same both ways, per link
		if i > j {
			i, j = j, i
		}
		h := sha256.Sum256([]byte(fmt.Sprintf("%d/%d/%d", cfg.Seed, i, j)))
		u := float64(binary.LittleEndian.Uint32(h[:4])) / math.MaxUint32
		return (u - 0.5) * 14
	}
	t := cfg.Start
	reasons := []string{"bad_rssi", "too_late", "invalid_frequency", "gateway_no_valid_beacons"}
	for round := 0; round < cfg.BeaconsPerHotspot; round++ {
		for i, b := range n.Hotspots {
			t = t.Add(time.Duration(30+rng.IntN(60)) * time.Second)
			ev := maps.BeaconEvent{ID: fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(i, round, cfg.Seed))))[:16],
				Beaconer: b.Address, At: t, Frequency: 867.1 + 0.2*float64(rng.IntN(8))}
			valid := 0
			for j, w := range n.Hotspots {
				if j == i {
					continue
				}
				d := DistanceM(b.Lat, b.Lng, w.Lat, w.Lng)
				rssi := rssiAt(d, shadow(i, j)) + float64(rng.IntN(5)-2)
				if rssi < -134 {
					continue
				}
				we := maps.WitnessEvent{Witness: w.Address, RSSI: rssi, SNR: math.Round((rssi+117+rng.Float64()*4)*10) / 10,
					DistanceM: math.Round(d), Valid: true, Reason: "reason_none", At: t.Add(time.Duration(rng.IntN(900)) * time.Millisecond)}
				if we.SNR > 15 {
					we.SNR = 15
				}
				switch {
				case d < 345:
					we.Valid, we.Reason = false, "below_min_distance"
				case rng.IntN(8) == 0:
					we.Valid, we.Reason = false, reasons[rng.IntN(len(reasons))]
				}
				if we.Valid {
					valid++
				}
				ev.Witnesses = append(ev.Witnesses, we)
			}
			ev.Valid = valid > 0
			ev.Reason = "reason_none"
			if !ev.Valid {
				ev.Reason = "gateway_no_valid_witnesses"
			}
			if valid > 0 {
				w := float64(min(valid, 14))
				if w <= 4 {
					ev.Units = w / 4
				} else {
					ev.Units = 2 - math.Pow(0.8, w-4)
				}
				for k := range ev.Witnesses {
					if ev.Witnesses[k].Valid {
						if w <= 4 {
							ev.Witnesses[k].Units = 1
						} else {
							ev.Witnesses[k].Units = (4 - (1 - math.Pow(0.8, w-4))) / w
						}
					}
				}
			}
			n.Beacons = append(n.Beacons, ev)
			if rng.IntN(2) == 0 {
				n.Packets = append(n.Packets, maps.PacketEvent{Hotspot: b.Address,
					DevAddr: fmt.Sprintf("%08x", rng.Uint32()), RSSI: -60 - float64(rng.IntN(60)),
					SNR: float64(rng.IntN(20) - 5), At: t.Add(2 * time.Second), DC: uint64(1 + rng.IntN(3))})
			}
		}
	}
	epochLen := t.Sub(cfg.Start)/time.Duration(cfg.Epochs) + time.Second
	for e := 0; e < cfg.Epochs; e++ {
		ei := maps.EpochInfo{Epoch: uint64(e + 1), Start: cfg.Start.Add(time.Duration(e) * epochLen),
			End: cfg.Start.Add(time.Duration(e+1) * epochLen)}
		m := map[string]maps.RewardAmounts{}
		for _, h := range n.Hotspots {
			ra := maps.RewardAmounts{Beacon: uint64(rng.IntN(50_000)), Witness: uint64(rng.IntN(200_000)), Data: uint64(rng.IntN(10_000))}
			m[h.Address] = ra
			ei.Total += ra.Total()
		}
		n.Epochs = append(n.Epochs, ei)
		n.Rewards[ei.Epoch] = m
	}
	// Mapper points: drives out from random hotspots.
	for p := 0; p < cfg.MapperPoints; p++ {
		h := n.Hotspots[rng.IntN(len(n.Hotspots))]
		ang := rng.Float64() * 2 * math.Pi
		dist := 0.3 + 4*rng.Float64()
		lat, lng := offset(h.Lat, h.Lng, dist*math.Cos(ang), dist*math.Sin(ang))
		mp := maps.MapperPoint{DevEUI: fmt.Sprintf("70b3d57ed00%05x", p%7), Lat: lat, Lng: lng, Alt: 10 + rng.Float64()*20,
			Accuracy: 3 + rng.Float64()*20, At: cfg.Start.Add(t.Sub(cfg.Start) * time.Duration(p) / time.Duration(cfg.MapperPoints))}
		for j, w := range n.Hotspots {
			d := DistanceM(lat, lng, w.Lat, w.Lng)
			rssi := rssiAt(d, shadow(j, 1000+p)) - 5
			if rssi < -130 {
				continue
			}
			mp.Hotspots = append(mp.Hotspots, maps.MapperHeard{Address: w.Address, RSSI: rssi,
				SNR: math.Round(math.Min(12, rssi+120)*10) / 10})
		}
		if len(mp.Hotspots) > 0 {
			n.Mapper = append(n.Mapper, mp)
		}
	}
	n.End = t.Add(time.Minute)
	return n, nil
}

// Feed sends the network through the aggregator's ingest API: hotspots,
// online states, scales, beacons, packets, epochs with rewards, mapper points.
func (n *Network) Feed(a *maps.Aggregator) error {
	for i, h := range n.Hotspots {
		if err := a.Hotspot(h); err != nil {
			return err
		}
		if err := a.HotspotState(h.Address, i%7 != 0, n.End); err != nil {
			return err
		}
		if err := a.Scale(h.Address, n.Scales[h.Address]); err != nil {
			return err
		}
	}
	for _, b := range n.Beacons {
		if err := a.Beacon(b); err != nil {
			return err
		}
	}
	for _, p := range n.Packets {
		if err := a.Packet(p); err != nil {
			return err
		}
	}
	for _, e := range n.Epochs {
		if err := a.Epoch(e); err != nil {
			return err
		}
		for addr, r := range n.Rewards[e.Epoch] {
			if err := a.Reward(e.Epoch, addr, r); err != nil {
				return err
			}
		}
	}
	for _, m := range n.Mapper {
		if err := a.Mapper(m); err != nil {
			return err
		}
	}
	return nil
}
