package radio

import (
	"math"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/lorawan"
)

// Node is anything with an antenna on the simulated air: a hotspot's
// concentrator or a device. Its true position is what the physics uses;
// what it asserts to the network is none of the medium's business.
type Node struct {
	ID      string
	Lat     float64
	Lng     float64
	HeightM float64
	GainDBi float64
	// Receive is called for each frame the node demodulates (nil: deaf).
	Receive func(Reception, Transmission)
}

// Transmission is a frame put on the air by a node.
type Transmission struct {
	Frame
	Payload   []byte
	UplinkPol bool // true for uplink chirp polarity (devices, beacons); downlinks are inverted
}

// Medium is the simulated air shared by all nodes.
type Medium struct {
	model Model
	clk   clock.Clock
	air   *Air

	mu    sync.RWMutex
	nodes map[string]*Node
	pos   func(id string) (lat, lng float64, ok bool) // live positions of moving nodes

	stats struct {
		sync.Mutex
		transmissions, receptions, collisions, belowFloor uint64
	}
}

// NewMedium returns an empty medium.
func NewMedium(m Model, clk clock.Clock) *Medium {
	return &Medium{model: m, clk: clk, air: NewAir(m.CaptureDB), nodes: map[string]*Node{}}
}

// Model returns the medium's radio model.
func (m *Medium) Model() Model { return m.model }

// Add places a node on the air (replacing one with the same id).
func (m *Medium) Add(n *Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[n.ID] = n
}

// Move updates a node's position.
func (m *Medium) Move(id string, lat, lng float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.nodes[id]; n != nil {
		n.Lat, n.Lng = lat, lng
	}
}

// Stats are the medium's counters: transmissions, receptions delivered,
// receptions lost to collisions and receptions below the demodulation floor.
func (m *Medium) Stats() (tx, rx, collided, weak uint64) {
	m.stats.Lock()
	defer m.stats.Unlock()
	return m.stats.transmissions, m.stats.receptions, m.stats.collisions, m.stats.belowFloor
}

// Link computes the reception of a transmission from tx at rx.
func (m *Medium) link(tx, rx *Node, t Transmission) Reception {
	d := Distance(tx.Lat, tx.Lng, rx.Lat, rx.Lng)
	return m.model.Receive(Link{
		TxID: tx.ID, RxID: rx.ID, DistanceM: d, FrequencyHz: float64(t.FrequencyHz),
		TxPowerDBm: t.PowerDBm, TxGainDBi: tx.GainDBi, RxGainDBi: rx.GainDBi,
		TxHeightM: tx.HeightM, RxHeightM: rx.HeightM,
	}, t.SF, float64(t.BandwidthKHz)*1000)
}

// Transmit puts a frame on the air now. Receivers are decided when the frame
// ends (so every overlapping frame is known): each node other than the
// sender whose link budget clears the floor and that survives collisions gets
// its Receive called. listen filters receivers (e.g. only gateways hear
// uplink polarity, only devices hear downlinks); nil means all.
func (m *Medium) Transmit(from string, t Transmission, listen func(*Node) bool) time.Duration {
	m.mu.RLock()
	src := m.nodes[from]
	m.mu.RUnlock()
	if src == nil {
		return 0
	}
	airtime := lorawanAirtime(t)
	now := m.clk.Now()
	t.From, t.Start, t.End = from, now, now.Add(airtime)
	t.Frame = m.air.Transmit(t.Frame)
	m.stats.Lock()
	m.stats.transmissions++
	m.stats.Unlock()
	go func() {
		<-m.clk.After(airtime)
		m.deliver(src, t, listen)
	}()
	return airtime
}

func (m *Medium) deliver(src *Node, t Transmission, listen func(*Node) bool) {
	m.mu.RLock()
	rxs := make([]*Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		if n != src && n.Receive != nil && (listen == nil || listen(n)) {
			rxs = append(rxs, n)
		}
	}
	m.mu.RUnlock()
	for _, rx := range rxs {
		r := m.link(src, rx, t)
		if !r.OK {
			if r.SNR > SNRFloor(t.SF)-20 {
				m.stats.Lock()
				m.stats.belowFloor++
				m.stats.Unlock()
			}
			continue
		}
		survives := m.air.Survives(t.Frame, func(f Frame) (float64, bool) {
			if f.ID == t.ID {
				return r.RSSI, true
			}
			m.mu.RLock()
			o := m.nodes[f.From]
			m.mu.RUnlock()
			if o == nil {
				return 0, false
			}
			if o == rx {
				return math.Inf(1), true // a node transmitting cannot receive
			}
			or := m.link(o, rx, Transmission{Frame: f})
			return or.RSSI, or.SNR > SNRFloor(f.SF)-10
		})
		if !survives {
			m.stats.Lock()
			m.stats.collisions++
			m.stats.Unlock()
			continue
		}
		m.stats.Lock()
		m.stats.receptions++
		m.stats.Unlock()
		rx.Receive(r, t)
	}
}

func lorawanAirtime(t Transmission) time.Duration {
	return lorawan.Airtime(len(t.Payload), t.SF, t.BandwidthKHz, 1, 8, true, true)
}
