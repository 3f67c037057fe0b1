package router

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
)

// tolerance is how far an LNS's tmst may be from an exact receive window.
const tolerance = 50 * time.Millisecond

// onDownlink relays an LNS downlink. When the uplink it answers is known,
// the copy with the highest RSSI (then SNR) inside the dedup window picks
// the hotspot, and the windows are rebuilt on that hotspot's counter: RX1 at
// uplink tmst + 1 s (data) or + 5 s (join-accept) with the LNS's frequency
// and data rate, RX2 one second later on the region's RX2 frequency and data
// rate. An LNS that answered in RX2 keeps RX2 only. Unknown uplinks go to the
// addressed hotspot with the LNS's window as RX1.
//
// d.Done, when set, receives nil once the PacketDown is published, or an
// error wrapping ErrDownlinkMalformed or ErrDownlinkFailed.
func (r *Router) onDownlink(d delivery.Downlink) {
	err := r.relayDownlink(d)
	if d.Done != nil {
		d.Done(err)
	}
}

// Downlink verdicts passed to delivery.Downlink.Done.
var (
	// ErrDownlinkMalformed reports an empty or oversized PHYPayload.
	ErrDownlinkMalformed = errors.New("router: malformed downlink")
	// ErrDownlinkFailed reports a downlink that could not be signed or published.
	ErrDownlinkFailed = errors.New("router: downlink not published")
)

func (r *Router) relayDownlink(d delivery.Downlink) error {
	if len(d.Payload) == 0 || len(d.Payload) > lorawan.MaxFrameSize {
		r.m.downlinks.WithLabelValues("malformed").Inc()
		return fmt.Errorf("%w: %d-byte payload", ErrDownlinkMalformed, len(d.Payload))
	}
	target := d.Hotspot
	rx1 := &wire.Window{Tmst: d.Tmst, Frequency: d.Frequency, DataRate: d.DataRate, Immediate: d.Immediate}
	var rx2 *wire.Window
	if d.HasHash && !d.Immediate {
		if best, addressed, mt, ok := r.lookupCopies(d.PacketHash, d.Hotspot); ok {
			target = best.hotspot
			reg, err := lorawan.RegionByID(best.region)
			delay1 := time.Second
			if err == nil {
				delay1 = reg.RX1Delay
				if mt == lorawan.JoinRequest {
					delay1 = reg.JoinAccept1Delay
				}
			} else if mt == lorawan.JoinRequest {
				delay1 = 5 * time.Second
			}
			offset := time.Duration(d.Tmst-addressed.tmst) * time.Microsecond // uint32 wrap-safe
			us := func(t time.Duration) uint32 { return best.tmst + uint32(t/time.Microsecond) }
			switch {
			case near(offset, delay1+time.Second): // LNS chose RX2
				rx1.Tmst = us(delay1 + time.Second)
			default:
				rx1.Tmst = us(delay1)
				if err == nil {
					if dr, derr := reg.DataRate(reg.RX2DataRate); derr == nil {
						rx2 = &wire.Window{Tmst: us(delay1 + time.Second), Frequency: reg.RX2Frequency, DataRate: dr.Name}
					}
				}
			}
		}
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	pd := &wire.PacketDown{
		Id: id, Payload: d.Payload, Rx1: rx1, Rx2: rx2, PowerDbm: d.PowerDBm,
		Hotspot: append([]byte(nil), target[:]...), IssuedAtMs: uint64(r.clk.Now().UnixMilli()),
	}
	if err := r.deps.Key.Sign(pd); err != nil {
		r.m.downlinks.WithLabelValues("error").Inc()
		r.log.Error("sign downlink", "err", err)
		return fmt.Errorf("%w: sign: %w", ErrDownlinkFailed, err)
	}
	b, err := wire.Marshal(pd)
	if err != nil {
		r.m.downlinks.WithLabelValues("error").Inc()
		return fmt.Errorf("%w: marshal: %w", ErrDownlinkFailed, err)
	}
	if err := r.deps.Publisher.Publish(wire.DownTopic(string(identity.AddressOf(target))), b); err != nil {
		r.m.downlinks.WithLabelValues("error").Inc()
		r.log.Warn("publish downlink", "err", err)
		return fmt.Errorf("%w: publish: %w", ErrDownlinkFailed, err)
	}
	r.m.downlinks.WithLabelValues("ok").Inc()
	if d.Ack != nil {
		r.amu.Lock()
		r.acks[string(id)] = pendingAck{hotspot: target, ack: d.Ack, until: r.clk.Now().Add(AckTimeout)}
		r.amu.Unlock()
	}
	return nil
}

// AckTimeout is how long the router waits for a hotspot's TxAck of a
// downlink before it forgets the downlink (its sender then tells its LNS
// nothing, which an LNS reads as a timeout): the longest receive window
// (join-accept RX2, 6 s) and the MQTT round trips, with room.
const AckTimeout = 30 * time.Second

// pendingAck is a published downlink whose TxAck a sender wants.
type pendingAck struct {
	hotspot identity.PublicKey
	ack     func(wire.TxStatus)
	until   time.Time
}

// TxAck hands a hotspot's verified TxAck of downlink id to the sender that
// asked for it. It reports false when no such downlink is waiting, or when
// it was sent to another hotspot (whose ack alone counts).
func (r *Router) TxAck(hotspot identity.PublicKey, id []byte, status wire.TxStatus) bool {
	r.amu.Lock()
	p, ok := r.acks[string(id)]
	if ok && p.hotspot == hotspot {
		delete(r.acks, string(id))
	}
	r.amu.Unlock()
	if !ok || p.hotspot != hotspot {
		return false
	}
	p.ack(status)
	return true
}

// sweepAcks forgets downlinks whose TxAck did not come in time.
func (r *Router) sweepAcks(now time.Time) {
	r.amu.Lock()
	for id, p := range r.acks {
		if now.After(p.until) {
			delete(r.acks, id)
		}
	}
	r.amu.Unlock()
}

func near(a, b time.Duration) bool { return a-b < tolerance && b-a < tolerance }

// lookupCopies returns the best copy of a packet, the copy of the addressed
// hotspot and the packet's message type.
func (r *Router) lookupCopies(hash [32]byte, addressed identity.PublicKey) (best, addr copyInfo, mt lorawan.MType, ok bool) {
	sh := r.shards[int(hash[0])%wire.Partitions%len(r.shards)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	g := sh.groups[hash]
	if g == nil || len(g.copies) == 0 {
		return copyInfo{}, copyInfo{}, 0, false
	}
	found := false
	best = g.copies[0]
	for _, c := range g.copies {
		if c.hotspot == addressed {
			addr, found = c, true
		}
		if c.rssi > best.rssi || (c.rssi == best.rssi && c.snr > best.snr) {
			best = c
		}
	}
	return best, addr, g.mtype, found
}
