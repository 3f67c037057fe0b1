package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/ledger"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
)

// regionParams tells each asserted hotspot its region, channels, max EIRP
// and asserted antenna gain on its retained config topic, signed by the
// network's config key: at start (the embedded broker keeps retained
// messages in memory only) and whenever the ledger changes the hotspot.
type regionParams struct {
	ledger  *ledger.Ledger
	key     *identity.Key
	publish func(ctx context.Context, topic string, payload []byte) error
	now     func() time.Time
	log     *slog.Logger
	changed chan identity.PublicKey
}

func newRegionParams(l *ledger.Ledger, key *identity.Key, publish func(context.Context, string, []byte) error, now func() time.Time, log *slog.Logger) *regionParams {
	rp := &regionParams{ledger: l, key: key, publish: publish, now: now, log: log, changed: make(chan identity.PublicKey, 4096)}
	l.SubscribeHotspots(func(pk identity.PublicKey) {
		select {
		case rp.changed <- pk:
		default:
			log.Warn("region parameter updates backed up; will resend all", "hotspot", string(pk.Address()))
		}
	})
	return rp
}

// message builds the signed parameters for one hotspot, or nil when it has no region yet.
func (rp *regionParams) message(h ledger.HotspotInfo) ([]byte, error) {
	if !h.Asserted {
		return nil, nil
	}
	reg, err := lorawan.RegionByID(h.Region)
	if err != nil {
		return nil, nil // asserted somewhere without a LoRaWAN plan we serve
	}
	m := &wire.RegionParams{
		Region:            h.Region,
		MaxEirpDbm:        int32(reg.MaxEIRP),
		AntennaGainDbiX10: h.Gain,
		IssuedAtMs:        uint64(rp.now().UnixMilli()),
		Hotspot:           h.Hotspot.Bytes(),
	}
	for _, ch := range reg.BeaconChannels() {
		m.Channels = append(m.Channels, &wire.Channel{Frequency: ch.Frequency, BandwidthKhz: ch.BandwidthKHz})
	}
	if err := rp.key.Sign(m); err != nil {
		return nil, err
	}
	return wire.Marshal(m)
}

func (rp *regionParams) send(ctx context.Context, h ledger.HotspotInfo) {
	b, err := rp.message(h)
	if err != nil || b == nil {
		return
	}
	if err := rp.publish(ctx, wire.ConfigTopic(string(h.Address)), b); err != nil {
		rp.log.Warn("publish region parameters", "hotspot", string(h.Address), "err", err)
	}
}

// Run publishes for every hotspot, then for each changed one, until ctx ends.
func (rp *regionParams) Run(ctx context.Context) error {
	for _, h := range rp.ledger.Hotspots() {
		rp.send(ctx, h)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case pk := <-rp.changed:
			if h, ok := rp.ledger.Hotspot(pk); ok {
				rp.send(ctx, h)
			}
		}
	}
}
