package devnet

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/lorawan"
	"github.com/hexnet/hexnet/internal/radio"
)

// device is a simulated class A LoRaWAN 1.0.x end device: it joins over
// the air (OTAA), then sends uplinks at an interval, some moving along a
// circular route and carrying their GPS position.
type device struct {
	id       string
	devEUI   lorawan.EUI64
	joinEUI  lorawan.EUI64
	appKey   lorawan.Key
	region   *lorawan.Region
	medium   *radio.Medium
	clk      clock.Clock
	rng      *mrand.Rand
	node     *radio.Node
	interval time.Duration
	gps      bool
	moving   bool
	// route: a circle around (cLat, cLng) of radius r metres, speed m/s.
	cLat, cLng, radiusM, speed float64
	angle                      float64
	sf                         int

	mu       sync.Mutex
	session  *lorawan.SessionKeys
	devAddr  lorawan.DevAddr
	devNonce uint16
	fcnt     uint32
	rx       chan []byte // downlink payloads heard

	joins, uplinks, downlinks atomic.Uint64
}

func (d *device) receive(_ radio.Reception, t radio.Transmission) {
	if t.UplinkPol {
		return // devices do not hear other devices or beacons
	}
	select {
	case d.rx <- t.Payload:
	default:
	}
}

// position returns the device's position at simulated time t.
func (d *device) position() (lat, lng float64) {
	if !d.moving || d.radiusM == 0 {
		return d.cLat, d.cLng
	}
	dLat := d.radiusM * math.Cos(d.angle) / 111320
	dLng := d.radiusM * math.Sin(d.angle) / (111320 * math.Cos(d.cLat*math.Pi/180))
	return d.cLat + dLat, d.cLng + dLng
}

func (d *device) run(ctx context.Context) {
	d.node.Receive = d.receive
	d.medium.Add(d.node)
	// Spread the devices' first transmissions.
	if !d.sleep(ctx, time.Duration(d.rng.Int64N(int64(d.interval)))) {
		return
	}
	for ctx.Err() == nil {
		d.mu.Lock()
		joined := d.session != nil
		d.mu.Unlock()
		if !joined {
			if !d.join(ctx) {
				// Back off before trying again (duty cycle and collisions).
				if !d.sleep(ctx, d.interval/2+time.Duration(d.rng.Int64N(int64(d.interval)))) {
					return
				}
				continue
			}
		}
		if d.moving {
			d.angle += d.speed * d.interval.Seconds() / math.Max(d.radiusM, 1)
			lat, lng := d.position()
			d.medium.Move(d.id, lat, lng)
		}
		d.uplink(ctx)
		if !d.sleep(ctx, d.interval) {
			return
		}
	}
}

func (d *device) sleep(ctx context.Context, dur time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-d.clk.After(dur):
		return true
	}
}

func (d *device) channel() lorawan.Channel {
	chs := d.region.BeaconChannels()
	return chs[d.rng.IntN(len(chs))]
}

// transmit sends a frame and returns the channel used and the airtime.
func (d *device) transmit(payload []byte, ch lorawan.Channel) time.Duration {
	return d.medium.Transmit(d.id, radio.Transmission{
		Frame:     radio.Frame{FrequencyHz: ch.Frequency, SF: d.sf, BandwidthKHz: int(ch.BandwidthKHz), PowerDBm: 14},
		Payload:   payload,
		UplinkPol: true,
	}, nil)
}

// listen waits for a downlink during the RX1 window opening delay after the
// uplink ended (plus a second for RX2), and returns the payloads heard.
func (d *device) listen(ctx context.Context, airtime, delay time.Duration, accept func([]byte) bool) bool {
	deadline := d.clk.After(airtime + delay + time.Second + 500*time.Millisecond)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline:
			return false
		case p := <-d.rx:
			if accept(p) {
				return true
			}
		}
	}
}

func (d *device) join(ctx context.Context) bool {
	d.mu.Lock()
	d.devNonce++
	nonce := d.devNonce
	d.mu.Unlock()
	jr, err := lorawan.BuildJoinRequest(d.joinEUI, d.devEUI, nonce, d.appKey)
	if err != nil {
		return false
	}
	drain(d.rx)
	air := d.transmit(jr, d.channel())
	return d.listen(ctx, air, d.region.JoinAccept1Delay, func(p []byte) bool {
		f, err := lorawan.Parse(p)
		if err != nil || f.MType != lorawan.JoinAccept {
			return false
		}
		ja, err := f.DecryptJoinAccept(d.appKey)
		if err != nil || !ja.ValidMIC(d.appKey) {
			return false
		}
		keys, err := lorawan.DeriveSessionKeys10(d.appKey, ja.JoinNonce, ja.NetID, nonce)
		if err != nil {
			return false
		}
		d.mu.Lock()
		d.session, d.devAddr, d.fcnt = &keys, ja.DevAddr, 0
		d.mu.Unlock()
		d.joins.Add(1)
		return true
	})
}

// gpsPayload encodes a position as the devnet's mapper payload: lat, lng as
// int32 micro-degrees, altitude in metres as int16, accuracy in metres as uint8.
func gpsPayload(lat, lng float64) []byte {
	b := make([]byte, 11)
	binary.BigEndian.PutUint32(b[0:], uint32(int32(math.Round(lat*1e6))))
	binary.BigEndian.PutUint32(b[4:], uint32(int32(math.Round(lng*1e6))))
	binary.BigEndian.PutUint16(b[8:], uint16(int16(2)))
	b[10] = 5
	return b
}

// decodeGPS is the inverse of gpsPayload.
func decodeGPS(b []byte) (lat, lng, alt, acc float64, err error) {
	if len(b) != 11 {
		return 0, 0, 0, 0, fmt.Errorf("devnet: gps payload length %d", len(b))
	}
	lat = float64(int32(binary.BigEndian.Uint32(b[0:]))) / 1e6
	lng = float64(int32(binary.BigEndian.Uint32(b[4:]))) / 1e6
	alt = float64(int16(binary.BigEndian.Uint16(b[8:])))
	acc = float64(b[10])
	return lat, lng, alt, acc, nil
}

func (d *device) uplink(ctx context.Context) {
	d.mu.Lock()
	keys, addr := *d.session, d.devAddr
	d.fcnt++
	fcnt := d.fcnt
	d.mu.Unlock()
	var payload []byte
	port := uint8(1)
	if d.gps {
		lat, lng := d.position()
		payload, port = gpsPayload(lat, lng), 2
	} else {
		payload = []byte(fmt.Sprintf("t=%d", fcnt))
	}
	confirmed := fcnt%4 == 0
	mt := lorawan.UnconfirmedDataUp
	if confirmed {
		mt = lorawan.ConfirmedDataUp
	}
	b, err := lorawan.BuildData(lorawan.DataParams{MType: mt, DevAddr: addr, FCnt: fcnt, HasFPort: true, FPort: port, FRMPayload: payload}, keys)
	if err != nil {
		return
	}
	drain(d.rx)
	air := d.transmit(b, d.channel())
	d.uplinks.Add(1)
	if !confirmed {
		return
	}
	d.listen(ctx, air, d.region.RX1Delay, func(p []byte) bool {
		f, err := lorawan.Parse(p)
		if err != nil || f.DevAddr != addr || f.Uplink() {
			return false
		}
		d.downlinks.Add(1)
		return true
	})
}

func drain(ch chan []byte) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
