// Package maps keeps the coverage map's aggregates (DESIGN.md §8): hotspots by
// H3 cell, hex statistics at res 4–10, witness edges, mapper coverage at res 9
// and rewards per epoch. Network components feed it through the ingest methods
// of Aggregator (Hotspot, HotspotState, Beacon, Packet, Scale, Reward, Epoch,
// Mapper); it persists per-hotspot, per-edge and per-cell records in its store
// space, keeps the indexes in memory, rebuilds them from the store on New, and
// publishes live events. Subpackages serve them: maps/api (HTTP), maps/live
// (WebSocket feed), maps/web (the embedded web map).
package maps

import (
	"errors"
	"time"
)

// Sentinel errors of the aggregator.
var (
	// ErrNotFound is returned for an unknown hotspot or hex.
	ErrNotFound = errors.New("maps: not found")
	// ErrInvalid is returned for an event with a missing or out-of-range field.
	ErrInvalid = errors.New("maps: invalid event")
	// ErrClosed is returned by ingest methods after Close.
	ErrClosed = errors.New("maps: closed")
)

// HotspotInfo is what the ledger knows about a hotspot: identity, owner and
// asserted location. Cell is the asserted res-12 H3 cell; when it is zero it
// is derived from Lat/Lng, and when Lat/Lng are zero they are the cell's
// centre. A hotspot with neither has no location (not shown on the map).
type HotspotInfo struct {
	Address    string  `json:"address"`
	Name       string  `json:"name"`
	Owner      string  `json:"owner,omitempty"`
	Cell       uint64  `json:"cell,omitempty"`
	Lat        float64 `json:"lat,omitempty"`
	Lng        float64 `json:"lng,omitempty"`
	GainDBiX10 int32   `json:"gain_dbi_x10"`
	Elevation  int32   `json:"elevation_m"`
	Region     string  `json:"region,omitempty"`
}

// WitnessEvent is one witness of a beacon with the verifier's verdict.
// Reason is the poc reason name ("reason_none" or empty when valid).
type WitnessEvent struct {
	Witness   string    `json:"witness"`
	RSSI      float64   `json:"rssi"`
	SNR       float64   `json:"snr"`
	DistanceM float64   `json:"distance_m"`
	Valid     bool      `json:"valid"`
	Reason    string    `json:"reason,omitempty"`
	Units     float64   `json:"units"`
	At        time.Time `json:"at"`
}

// BeaconEvent is one verified beacon with its witnesses.
type BeaconEvent struct {
	// ID identifies the beacon (e.g. hex of its data hash); optional.
	ID        string         `json:"id,omitempty"`
	Beaconer  string         `json:"beaconer"`
	At        time.Time      `json:"at"`
	Frequency float64        `json:"frequency_mhz,omitempty"`
	Valid     bool           `json:"valid"`
	Reason    string         `json:"reason,omitempty"`
	Units     float64        `json:"units"`
	Witnesses []WitnessEvent `json:"witnesses"`
}

// PacketEvent is one purchased (or heard) data packet copy.
type PacketEvent struct {
	Hotspot string    `json:"hotspot"`
	DevAddr string    `json:"dev_addr"`
	RSSI    float64   `json:"rssi"`
	SNR     float64   `json:"snr"`
	At      time.Time `json:"at"`
	DC      uint64    `json:"dc"`
}

// RewardAmounts are one hotspot's rewards in one epoch, in the token's base
// units.
type RewardAmounts struct {
	Beacon  uint64 `json:"beacon"`
	Witness uint64 `json:"witness"`
	Data    uint64 `json:"data"`
}

// Total is the sum of the amounts.
func (r RewardAmounts) Total() uint64 { return r.Beacon + r.Witness + r.Data }

// EpochInfo describes a closed epoch.
type EpochInfo struct {
	Epoch uint64    `json:"epoch"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Total is the emission paid out, in base units (optional).
	Total uint64 `json:"total,omitempty"`
	// Root is the hex of the signed payout Merkle root (optional).
	Root string `json:"root,omitempty"`
}

// MapperHeard is one hotspot that heard a mapper's uplink.
type MapperHeard struct {
	Address string  `json:"address"`
	RSSI    float64 `json:"rssi"`
	SNR     float64 `json:"snr"`
}

// MapperPoint is one mapper uplink that passed the ingest gates: the device's
// GPS position and the hotspots that heard it.
type MapperPoint struct {
	DevEUI   string        `json:"dev_eui"`
	Lat      float64       `json:"lat"`
	Lng      float64       `json:"lng"`
	Alt      float64       `json:"alt"`
	Accuracy float64       `json:"accuracy"`
	At       time.Time     `json:"time"`
	Hotspots []MapperHeard `json:"hotspots"`
}
