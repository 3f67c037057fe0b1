// Package gwmpfwd delivers the router's uplinks to an LNS over the Semtech
// UDP packet forwarder protocol (GWMP v2): towards the LNS the router looks
// like one packet forwarder per hotspot.
//
// Each hotspot gets a virtual gateway with its own UDP socket (PULL_RESP
// carries no gateway EUI, so the socket tells the gateways apart) and a
// gateway EUI derived from its key: the first 8 bytes of SHA-256 of the
// hotspot's 32-byte ed25519 public key (GatewayEUI). A gateway sends
// PULL_DATA when it is created and every KeepaliveInterval while it is in
// use, PUSH_DATA with one rxpk per uplink (time, tmst, freq, datr, codr,
// rssi, lsnr, size, data), and turns each PULL_RESP into a Downlink (after
// answering TX_ACK, as a forwarder does). Gateways idle for IdleTimeout are
// closed.
package gwmpfwd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
	"github.com/hexnet/hexnet/router/delivery"
	"github.com/hexnet/hexnet/router/routes"
)

// GatewayEUI is the virtual gateway EUI of a hotspot: SHA-256(pubkey)[:8].
func GatewayEUI(pk identity.PublicKey) gwmp.EUI {
	h := sha256.Sum256(pk[:])
	var e gwmp.EUI
	copy(e[:], h[:8])
	return e
}

// Config tunes a Sender.
type Config struct {
	// Address is the LNS's UDP host:port.
	Address string
	// KeepaliveInterval between PULL_DATA of each gateway. Default 10 s.
	KeepaliveInterval time.Duration
	// IdleTimeout closes a gateway without uplinks for this long. Default 5 min.
	IdleTimeout time.Duration
	// MaxGateways bounds open virtual gateways (sockets). Default 10000.
	MaxGateways int
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("gwmpfwd: closed")

// ErrTooManyGateways is returned by Send when MaxGateways are open.
var ErrTooManyGateways = errors.New("gwmpfwd: too many virtual gateways")

// Sender is a delivery.Sender over GWMP. Safe for concurrent use.
type Sender struct {
	cfg   Config
	raddr *net.UDPAddr
	down  func(delivery.Downlink)
	clk   clock.Clock
	log   *slog.Logger

	mu     sync.Mutex
	gws    map[identity.PublicKey]*gateway
	closed bool
	wg     sync.WaitGroup
}

var _ delivery.Sender = (*Sender)(nil)

type recent struct {
	tmst uint32
	hash [32]byte
}

type gateway struct {
	pk       identity.PublicKey
	eui      gwmp.EUI
	conn     *net.UDPConn
	lastUsed time.Time
	mu       sync.Mutex
	ring     [16]recent // last uplinks, for matching PULL_RESP to the uplink
	n        int
}

// New resolves the LNS address; it starts nothing. down receives downlinks.
func New(cfg Config, down func(delivery.Downlink), clk clock.Clock, log *slog.Logger) (*Sender, error) {
	if cfg.KeepaliveInterval <= 0 {
		cfg.KeepaliveInterval = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.MaxGateways <= 0 {
		cfg.MaxGateways = 10000
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.Default()
	}
	ra, err := net.ResolveUDPAddr("udp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("gwmpfwd: resolve %q: %w", cfg.Address, err)
	}
	return &Sender{cfg: cfg, raddr: ra, down: down, clk: clk, log: log.With("component", "gwmpfwd", "lns", cfg.Address),
		gws: map[identity.PublicKey]*gateway{}}, nil
}

// Dialer returns a delivery.Dialer for gwmp destinations with default settings.
func Dialer(clk clock.Clock, log *slog.Logger) delivery.Dialer {
	return func(d routes.Destination, down func(delivery.Downlink)) (delivery.Sender, error) {
		return New(Config{Address: d.Address}, down, clk, log)
	}
}

// Run sends keepalives and closes idle gateways until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.clk.After(s.cfg.KeepaliveInterval):
		}
		now := s.clk.Now()
		s.mu.Lock()
		var live []*gateway
		for pk, g := range s.gws {
			if now.Sub(g.lastUsed) > s.cfg.IdleTimeout {
				_ = g.conn.Close()
				delete(s.gws, pk)
				continue
			}
			live = append(live, g)
		}
		s.mu.Unlock()
		for _, g := range live {
			s.pull(g)
		}
	}
}

// Close closes every gateway socket and waits for their readers; idempotent.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, g := range s.gws {
		_ = g.conn.Close()
	}
	s.gws = map[identity.PublicKey]*gateway{}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func token() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

func (s *Sender) pull(g *gateway) {
	b, err := (&gwmp.PullData{Header: gwmp.Header{Version: gwmp.Version2, Token: token()}, GatewayEUI: g.eui}).MarshalBinary()
	if err == nil {
		_, err = g.conn.Write(b)
	}
	if err != nil {
		s.log.Debug("pull_data", "gateway", g.eui.String(), "err", err)
	}
}

func (s *Sender) gateway(pk identity.PublicKey) (*gateway, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if g := s.gws[pk]; g != nil {
		g.lastUsed = s.clk.Now()
		return g, nil
	}
	if len(s.gws) >= s.cfg.MaxGateways {
		return nil, ErrTooManyGateways
	}
	conn, err := net.DialUDP("udp", nil, s.raddr)
	if err != nil {
		return nil, fmt.Errorf("gwmpfwd: dial: %w", err)
	}
	g := &gateway{pk: pk, eui: GatewayEUI(pk), conn: conn, lastUsed: s.clk.Now()}
	s.gws[pk] = g
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.read(g)
	}()
	s.pull(g)
	return g, nil
}

// Send delivers one uplink as a PUSH_DATA of the hotspot's virtual gateway.
func (s *Sender) Send(ctx context.Context, u *delivery.Uplink) error {
	g, err := s.gateway(u.Hotspot)
	if err != nil {
		return err
	}
	up := u.Up
	rx := gwmp.RXPK{Tmst: up.Tmst, Stat: gwmp.CRCOK, Modu: gwmp.ModulationLoRa, CodR: up.CodingRate,
		RSSI: clampRSSI(up.Rssi), LSNR: float64(up.Snr)}
	if rx.CodR == "" {
		rx.CodR = "4/5"
	}
	t := u.ReceivedAt.UTC()
	if up.ReceivedAtMs != 0 {
		t = time.UnixMilli(int64(up.ReceivedAtMs)).UTC()
	}
	rx.Time = &t
	if up.GpsTimeUs != 0 {
		ms := up.GpsTimeUs / 1000
		rx.Tmms = &ms
	}
	rx.SetFreqHz(up.Frequency)
	if rx.DatR, err = gwmp.ParseDataRate(up.DataRate); err != nil {
		return fmt.Errorf("gwmpfwd: uplink data rate: %w", err)
	}
	rx.SetData(up.Payload)
	b, err := (&gwmp.PushData{Header: gwmp.Header{Version: gwmp.Version2, Token: token()}, GatewayEUI: g.eui,
		RXPK: []gwmp.RXPK{rx}}).MarshalBinary()
	if err != nil {
		return fmt.Errorf("gwmpfwd: push_data: %w", err)
	}
	g.mu.Lock()
	g.ring[g.n%len(g.ring)] = recent{tmst: up.Tmst, hash: u.PacketHash}
	g.n++
	g.mu.Unlock()
	if _, err := g.conn.Write(b); err != nil {
		return fmt.Errorf("gwmpfwd: write: %w", err)
	}
	return nil
}

func clampRSSI(v float32) int16 {
	switch {
	case v < gwmp.MinRSSI:
		return gwmp.MinRSSI
	case v > gwmp.MaxRSSI:
		return gwmp.MaxRSSI
	}
	return int16(v)
}

// lnsDatagramSize is the read buffer of each gateway's socket. The LNS
// sends a gateway PUSH_ACK, PULL_ACK and PULL_RESP, which carries one txpk
// (at most 255 payload bytes, about 1 KB of JSON). Each hotspot with
// traffic for a UDP destination has its own socket and reader, so 64 KiB
// each was 64 MiB of heap per 1,000 hotspots; a longer datagram is cut
// here and then refused by the decoder as malformed.
const lnsDatagramSize = 4096

// read handles the LNS's datagrams to one gateway until its socket closes.
func (s *Sender) read(g *gateway) {
	buf := make([]byte, lnsDatagramSize)
	for {
		n, err := g.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP refusals while the LNS is down
		}
		p, err := gwmp.Decode(buf[:n])
		if err != nil {
			s.log.Debug("malformed datagram from lns", "reason", gwmp.Reason(err))
			continue
		}
		pr, ok := p.(*gwmp.PullResp)
		if !ok {
			continue // PUSH_ACK, PULL_ACK
		}
		if s.down == nil {
			continue
		}
		// The LNS hears TX_ACK when the hotspot's forwarder reported on the
		// transmission, with its error; nothing when the router could not
		// pass the downlink on or no report came (the LNS's timeout).
		token := pr.Token
		tx := pr.TXPK
		d := delivery.Downlink{Hotspot: g.pk, Payload: append([]byte(nil), tx.Data...), Immediate: tx.Imme,
			Frequency: tx.FreqHz(), DataRate: tx.DatR.String(), PowerDBm: uint32(tx.Powe),
			Ack: func(st wire.TxStatus) {
				e, ok := txError(st)
				if !ok {
					return
				}
				ack, err := (&gwmp.TxAck{Header: gwmp.Header{Version: gwmp.Version2, Token: token}, GatewayEUI: g.eui, Error: e}).MarshalBinary()
				if err == nil {
					_, _ = g.conn.Write(ack)
				}
			}}
		if tx.Tmst != nil {
			d.Tmst = *tx.Tmst
			d.PacketHash, d.HasHash = g.match(d.Tmst)
		}
		s.down(d)
	}
}

// match finds the recent uplink a downlink timed at tmst answers: one whose
// tmst is 1, 2, 5 or 6 s earlier (±50 ms), the newest first.
func (g *gateway) match(tmst uint32) ([32]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := 1; i <= len(g.ring) && i <= g.n; i++ {
		r := g.ring[(g.n-i)%len(g.ring)]
		off := tmst - r.tmst
		for _, d := range []uint32{1e6, 2e6, 5e6, 6e6} {
			if off+50_000-d <= 100_000 {
				return r.hash, true
			}
		}
	}
	return [32]byte{}, false
}

// txError maps a hotspot's TxAck status to the TX_ACK error a Semtech
// forwarder would have sent; ok is false for outcomes the protocol has no
// word for (no forwarder, its timeout, unknown), which the LNS then reads
// as a timeout.
func txError(st wire.TxStatus) (e gwmp.TxError, ok bool) {
	switch st {
	case wire.TxStatus_TX_OK:
		return gwmp.TxErrorNone, true
	case wire.TxStatus_TX_TOO_LATE:
		return gwmp.TxErrorTooLate, true
	case wire.TxStatus_TX_TOO_EARLY:
		return gwmp.TxErrorTooEarly, true
	case wire.TxStatus_TX_COLLISION_PACKET:
		return gwmp.TxErrorCollisionPacket, true
	case wire.TxStatus_TX_COLLISION_BEACON:
		return gwmp.TxErrorCollisionBeacon, true
	case wire.TxStatus_TX_FREQ:
		return gwmp.TxErrorTxFreq, true
	case wire.TxStatus_TX_POWER:
		return gwmp.TxErrorTxPower, true
	case wire.TxStatus_TX_GPS_UNLOCKED:
		return gwmp.TxErrorGPSUnlocked, true
	}
	return "", false
}
