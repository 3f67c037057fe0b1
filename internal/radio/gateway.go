package radio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/gwmp"
)

// Gateway is a simulated LoRa concentrator with a Semtech UDP packet
// forwarder: it pushes the frames its node hears to a GWMP server (the
// hotspot agent) and transmits the server's PULL_RESPs on the medium, as
// lora_pkt_fwd would (two sockets, PULL_DATA keepalives, TX_ACK).
type Gateway struct {
	node      *Node
	medium    *Medium
	clk       clock.Clock
	server    string
	eui       gwmp.EUI
	keepalive time.Duration
	duty      *DutyCycle
	log       *slog.Logger
	boot      time.Time

	mu       sync.Mutex
	up, down *net.UDPConn
	token    uint16

	Pushed, Transmitted, Refused atomic.Uint64
}

// GatewayConfig configures a simulated gateway.
type GatewayConfig struct {
	Node      *Node
	Server    string // the agent's GWMP address
	EUI       gwmp.EUI
	KeepAlive time.Duration // PULL_DATA interval in wall time; default 5 s
	Duty      *DutyCycle    // transmit duty cycle (nil: none)
	Logger    *slog.Logger
}

// NewGateway builds a gateway; it opens nothing until Run.
func NewGateway(cfg GatewayConfig, m *Medium, clk clock.Clock) *Gateway {
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gateway{node: cfg.Node, medium: m, clk: clk, server: cfg.Server, eui: cfg.EUI, keepalive: cfg.KeepAlive, duty: cfg.Duty, log: cfg.Logger, boot: clk.Now()}
	return g
}

// tmst is the concentrator's 1 MHz counter at simulated time t.
func (g *Gateway) tmst(t time.Time) uint32 { return uint32(t.Sub(g.boot).Microseconds()) }

// Run connects to the server and forwards until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	raddr, err := net.ResolveUDPAddr("udp", g.server)
	if err != nil {
		return fmt.Errorf("radio: gateway server: %w", err)
	}
	up, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return fmt.Errorf("radio: gateway up socket: %w", err)
	}
	down, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		up.Close()
		return fmt.Errorf("radio: gateway down socket: %w", err)
	}
	g.mu.Lock()
	g.up, g.down = up, down
	g.mu.Unlock()
	g.node.Receive = g.receive
	g.medium.Add(g.node)
	go func() { <-ctx.Done(); up.Close(); down.Close() }()
	go g.drainUp(up)
	go g.keepAliveLoop(ctx, down)
	g.downLoop(ctx, down)
	return nil
}

func (g *Gateway) nextToken() uint16 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.token++
	return g.token
}

func (g *Gateway) keepAliveLoop(ctx context.Context, down *net.UDPConn) {
	t := time.NewTicker(g.keepalive)
	defer t.Stop()
	for {
		p := &gwmp.PullData{Header: gwmp.Header{Version: gwmp.Version2, Token: g.nextToken()}, GatewayEUI: g.eui}
		if b, err := p.MarshalBinary(); err == nil {
			_, _ = down.Write(b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drainUp reads PUSH_ACKs (nothing to do with them here).
func (g *Gateway) drainUp(up *net.UDPConn) {
	buf := make([]byte, 1024)
	for {
		if _, err := up.Read(buf); err != nil {
			return
		}
	}
}

// The range a concentrator reports a packet's SNR in: a signed byte in
// quarter dB (the LoRa modem's packet SNR register, e.g. SX1276
// RegPktSnrValue), so a frame from next door reads +31.75 dB, not the link
// budget's +60.
const (
	minReportedSNR = -128.0 / 4
	maxReportedSNR = 127.0 / 4
)

// reported is what the concentrator puts in an rxpk for a reception: RSSI
// in whole dBm, at most gwmp.MaxRSSI (the front end saturates), and SNR in
// tenths of a dB within the register's range.
func reported(r Reception) (rssi int16, lsnr float64) {
	rssi = int16(math.Round(math.Max(math.Min(r.RSSI, gwmp.MaxRSSI), gwmp.MinRSSI)))
	lsnr = math.Round(math.Max(math.Min(r.SNR, maxReportedSNR), minReportedSNR)*10) / 10
	return rssi, lsnr
}

// receive turns a demodulated uplink-polarity frame into a PUSH_DATA.
func (g *Gateway) receive(r Reception, t Transmission) {
	if !t.UplinkPol {
		return // concentrators do not demodulate inverted-polarity downlinks
	}
	dr, err := gwmp.LoRaDataRate(t.SF, t.BandwidthKHz)
	if err != nil {
		return
	}
	now := g.clk.Now()
	rx := gwmp.RXPK{
		Tmst: g.tmst(now),
		Stat: gwmp.CRCOK,
		Modu: gwmp.ModulationLoRa,
		DatR: dr,
		CodR: "4/5",
	}
	rx.RSSI, rx.LSNR = reported(r)
	rx.Time = &now
	rx.SetFreqHz(t.FrequencyHz)
	rx.SetData(t.Payload)
	p := &gwmp.PushData{Header: gwmp.Header{Version: gwmp.Version2, Token: g.nextToken()}, GatewayEUI: g.eui, RXPK: []gwmp.RXPK{rx}}
	b, err := p.MarshalBinary()
	if err != nil {
		g.log.Warn("sim gateway: encode push", "err", err)
		return
	}
	g.mu.Lock()
	up := g.up
	g.mu.Unlock()
	if _, err := up.Write(b); err == nil {
		g.Pushed.Add(1)
	}
}

// maxAhead is how far in the future a timed txpk may be scheduled.
const maxAhead = 30 * time.Second

func (g *Gateway) downLoop(ctx context.Context, down *net.UDPConn) {
	buf := make([]byte, gwmp.MaxDatagramSize)
	for {
		n, err := down.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt, err := gwmp.Decode(buf[:n])
		if err != nil {
			continue
		}
		resp, ok := pkt.(*gwmp.PullResp)
		if !ok {
			continue
		}
		txErr := g.schedule(resp.TXPK)
		if txErr != gwmp.TxErrorNone {
			g.Refused.Add(1)
		}
		if b, err := resp.Ack(g.eui, txErr).MarshalBinary(); err == nil {
			_, _ = down.Write(b)
		}
	}
}

// schedule checks a txpk and transmits it now or at its tmst.
func (g *Gateway) schedule(tx gwmp.TXPK) gwmp.TxError {
	if tx.Modu != gwmp.ModulationLoRa {
		return gwmp.TxErrorTxFreq
	}
	now := g.clk.Now()
	var delay time.Duration
	if !tx.Imme {
		if tx.Tmst == nil {
			return gwmp.TxErrorTooLate
		}
		delta := int32(*tx.Tmst - g.tmst(now))
		delay = time.Duration(delta) * time.Microsecond
		if delay < 0 {
			return gwmp.TxErrorTooLate
		}
		if delay > maxAhead {
			return gwmp.TxErrorTooEarly
		}
	}
	t := Transmission{
		Frame:     Frame{FrequencyHz: tx.FreqHz(), SF: tx.DatR.SF(), BandwidthKHz: tx.DatR.BandwidthKHz(), PowerDBm: float64(tx.Powe)},
		Payload:   append([]byte(nil), tx.Data...),
		UplinkPol: !tx.IPol,
	}
	airtime := time.Duration(0)
	if g.duty != nil {
		airtime = lorawanAirtime(t)
		if !g.duty.Allow(g.node.ID, now.Add(delay), airtime) {
			return gwmp.TxErrorTooEarly // the duty-cycle budget is spent: try later
		}
	}
	go func() {
		if delay > 0 {
			<-g.clk.After(delay)
		}
		g.medium.Transmit(g.node.ID, t, nil)
		g.Transmitted.Add(1)
	}()
	return gwmp.TxErrorNone
}
