package devnet

import (
	"context"
	"math"
	mrand "math/rand/v2"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/radio"
	"github.com/hexnet/hexnet/internal/wire"
)

// heardBeacon is what a cheater learns of a beacon out of band.
type heardBeacon struct {
	from     *hotspotPlan
	data     []byte
	freq     uint64
	dataRate string
	rssi     float32
	snr      float32
}

// bus fans beacons (or witnesses) out to subscribers, dropping when one is slow.
type bus struct {
	mu   sync.Mutex
	subs []chan heardBeacon
}

func (b *bus) subscribe() chan heardBeacon {
	ch := make(chan heardBeacon, 256)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	return ch
}

func (b *bus) send(h heardBeacon) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- h:
		default:
		}
	}
}

// cheats builds the agent hooks of each kind of cheater. The hooks use the
// same agent as honest hotspots; the network is not told who cheats.
type cheats struct {
	model  radio.Model
	clk    clock.Clock
	eirp   float64 // region max EIRP, dBm
	rings  map[int]*bus
	honest bus // honest hotspots' witnesses, the replayers' feed
	seed   uint64
	region wire.Region
}

func (c *cheats) ring(n int) *bus {
	if c.rings[n] == nil {
		c.rings[n] = &bus{}
	}
	return c.rings[n]
}

// hooks returns the agent hooks for one hotspot.
func (c *cheats) hooks(p *hotspotPlan) hotspot.Hooks {
	rng := mrand.New(mrand.NewPCG(c.seed, uint64(p.index)+1))
	var mu sync.Mutex
	rand := func() float64 { mu.Lock(); defer mu.Unlock(); return rng.Float64() }
	switch p.kind {
	case Honest:
		return hotspot.Hooks{Witness: func(w *wire.WitnessReport) bool {
			c.honest.send(heardBeacon{from: p, data: append([]byte(nil), w.Data...), freq: w.Frequency, dataRate: w.DataRate, rssi: w.Rssi, snr: w.Snr})
			return true
		}}
	case RSSIForge:
		// Reports a signal far stronger than it measured, to look like better coverage.
		return hotspot.Hooks{Witness: func(w *wire.WitnessReport) bool {
			w.Rssi += 18
			return true
		}}
	case Spoof:
		return hotspot.Hooks{} // honest software, dishonest location
	case Ring:
		b := c.ring(p.ring)
		feed := b.subscribe()
		return hotspot.Hooks{
			Beacon: func(r *wire.BeaconReport) {
				b.send(heardBeacon{from: p, data: append([]byte(nil), r.Data...), freq: r.Frequency, dataRate: r.DataRate})
			},
			Extra: func(ctx context.Context, publish func(string, proto.Message) error) {
				for {
					select {
					case <-ctx.Done():
						return
					case h := <-feed:
						if h.from == p {
							continue
						}
						// A plausible made-up reception from the asserted distance.
						d := radio.Distance(p.assLat, p.assLng, h.from.assLat, h.from.assLng)
						rssi := c.eirp + float64(p.gainDBiX10)/10 - c.model.PathLoss(d, float64(h.freq), 10, 10) + 4*(rand()-0.5)
						snr := math.Min(rssi-c.model.NoiseFloor(125e3), 9.5) + (rand() - 0.5)
						select {
						case <-ctx.Done():
							return
						case <-c.clk.After(time.Duration(200+rand()*800) * time.Millisecond):
						}
						w := &wire.WitnessReport{Data: h.data, Rssi: float32(math.Round(rssi)), Snr: float32(math.Round(snr*10) / 10), Frequency: h.freq,
							DataRate: h.dataRate, TimestampMs: uint64(c.clk.Now().UnixMilli()), Region: c.region}
						_ = publish(wire.PoCTopic(wire.Partition(w.Data)), w)
					}
				}
			},
		}
	case Replay:
		feed := c.honest.subscribe()
		return hotspot.Hooks{Extra: func(ctx context.Context, publish func(string, proto.Message) error) {
			for {
				select {
				case <-ctx.Done():
					return
				case h := <-feed:
					if rand() > 0.35 {
						continue // replays a share of what it can get hold of
					}
					// A copy comes after the original it copies.
					select {
					case <-ctx.Done():
						return
					case <-c.clk.After(time.Duration(300+rand()*1200) * time.Millisecond):
					}
					w := &wire.WitnessReport{Data: h.data, Rssi: h.rssi, Snr: h.snr, Frequency: h.freq, DataRate: h.dataRate,
						TimestampMs: uint64(c.clk.Now().UnixMilli()), Region: c.region}
					_ = publish(wire.PoCTopic(wire.Partition(w.Data)), w)
				}
			}
		}}
	}
	return hotspot.Hooks{}
}
