package node

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/maps"
	"github.com/hexnet/hexnet/poc"
	"github.com/hexnet/hexnet/poc/ingest"
	"github.com/hexnet/hexnet/router"
)

// mapsFeed turns the network's events into the explorer's aggregates:
// hotspots from the ledger, verdicts from PoC, presence from the hotspots'
// signed state, copies the router bought, closed epochs and their payouts
// from the ledger.
type mapsFeed struct {
	agg     *maps.Aggregator
	ledger  *ledger.Ledger
	log     *slog.Logger
	seen    map[uint64]bool      // epochs already fed
	packets chan router.Purchase // copies the router bought, fed by run
	dropped atomic.Uint64        // purchases not shown: the feed was full
	// droppedMetric counts the same drops for /metrics (nil in tests).
	droppedMetric prometheus.Counter
}

// packetQueue bounds the purchases waiting for the explorer.
const packetQueue = 4096

// purchase queues a copy the router bought for the explorer; it never
// blocks the router (a full queue drops it, counted, from the map only).
func (f *mapsFeed) purchase(p router.Purchase) {
	select {
	case f.packets <- p:
	default:
		if f.droppedMetric != nil {
			f.droppedMetric.Inc()
		}
		if f.dropped.Add(1)%1000 == 1 {
			f.log.Warn("maps: packet feed full", "dropped", f.dropped.Load())
		}
	}
}

func (f *mapsFeed) packet(p router.Purchase) {
	ev := maps.PacketEvent{Hotspot: string(p.Hotspot.Address()), RSSI: float64(p.RSSI), SNR: float64(p.SNR), At: p.At, DC: p.DC}
	if !p.Join {
		ev.DevAddr = p.DevAddr.String()
	}
	if err := f.agg.Packet(ev); err != nil {
		f.log.Debug("maps: packet", "err", err)
	}
}

func hotspotInfo(h ledger.HotspotInfo) maps.HotspotInfo {
	return maps.HotspotInfo{
		Address: string(h.Address), Name: h.Name, Owner: string(h.OwnerAddr), Cell: uint64(h.Cell),
		Lat: h.Lat, Lng: h.Lng, GainDBiX10: h.Gain, Elevation: h.Elevation, Region: h.RegionStr,
	}
}

func (f *mapsFeed) hotspot(pk identity.PublicKey) {
	if h, ok := f.ledger.Hotspot(pk); ok {
		if err := f.agg.Hotspot(hotspotInfo(h)); err != nil {
			f.log.Warn("maps: hotspot", "hotspot", string(pk.Address()), "err", err)
		}
	}
}

// result feeds one PoC verdict.
func (f *mapsFeed) result(r ingest.Result) {
	if r.WitnessOnly && r.Beaconer == (identity.PublicKey{}) {
		return // its beacon never arrived: nothing to draw
	}
	ev := maps.BeaconEvent{
		ID:       hex.EncodeToString(r.ID[:8]),
		Beaconer: string(r.Beaconer.Address()),
		At:       r.ReceivedAt,
		Valid:    r.Reason == poc.ReasonNone,
		Reason:   r.Reason.String(),
		Units:    r.Units,
	}
	for _, w := range r.Witnesses {
		if ev.Frequency == 0 {
			ev.Frequency = float64(w.Frequency) / 1e6
		}
		ev.Witnesses = append(ev.Witnesses, maps.WitnessEvent{
			Witness: string(w.Witness.Address()), RSSI: float64(w.RSSI), SNR: float64(w.SNR), DistanceM: w.DistanceM,
			Valid: w.Reason == poc.ReasonNone, Reason: w.Reason.String(), Units: w.Units, At: w.ReceivedAt,
		})
	}
	if err := f.agg.Beacon(ev); err != nil {
		f.log.Debug("maps: beacon", "err", err)
	}
	if !r.WitnessOnly && r.Scale > 0 {
		_ = f.agg.Scale(ev.Beaconer, r.Scale)
	}
}

// state feeds a hotspot's signed online/offline state.
func (f *mapsFeed) state(topic string, b []byte) {
	var st wire.HotspotState
	if err := wire.Unmarshal(b, &st); err != nil {
		return
	}
	pk, err := identity.VerifySigned(&st)
	if err != nil {
		return
	}
	p, err := wire.ParseTopic(topic)
	if err != nil || p.Address != string(pk.Address()) {
		return // a state must be the hotspot's own
	}
	_ = f.agg.HotspotState(p.Address, st.GetOnline(), time.UnixMilli(int64(st.GetTimestampMs())))
}

// epochs feeds closed epochs and their payouts, once each.
func (f *mapsFeed) epochs() {
	for _, e := range f.ledger.Epochs() {
		if f.seen[e.Epoch] {
			continue
		}
		_, entries, err := f.ledger.Manifest(e.Epoch)
		if err != nil {
			continue
		}
		if err := f.agg.Epoch(maps.EpochInfo{Epoch: e.Epoch, Start: e.Start, End: e.End, Total: e.Emitted, Root: e.Root}); err != nil {
			continue
		}
		for _, m := range entries {
			pk, err := identity.PublicKeyFromBytes(m.GetHotspot())
			if err != nil {
				continue
			}
			_ = f.agg.Reward(e.Epoch, string(pk.Address()), maps.RewardAmounts{Beacon: m.GetBeacon(), Witness: m.GetWitness(), Data: m.GetDataTransfer()})
		}
		f.seen[e.Epoch] = true
	}
}

// run feeds the ledger's hotspots and epochs until ctx ends.
func (f *mapsFeed) run(ctx context.Context, changed <-chan identity.PublicKey) error {
	for _, h := range f.ledger.Hotspots() {
		_ = f.agg.Hotspot(hotspotInfo(h))
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case pk := <-changed:
			f.hotspot(pk)
		case p := <-f.packets:
			f.packet(p)
		case <-t.C:
			f.epochs()
		}
	}
}
