// Package gwmptest provides a scripted Semtech UDP packet forwarder for tests
// of GWMP servers, such as the hotspot agent: a Forwarder pushes the rxpk it
// is given, keeps the downlink route open with PULL_DATA, and answers each
// PULL_RESP with a TX_ACK whose error the test chooses.
//
// Like the reference lora_pkt_fwd, the Forwarder uses two UDP sockets, one
// for the upstream (PUSH_DATA/PUSH_ACK) and one for the downstream
// (PULL_DATA/PULL_ACK/PULL_RESP/TX_ACK), so a server that answers downlinks to
// the upstream address fails its tests as it would fail on a real gateway.
package gwmptest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexnet/hexnet/internal/gwmp"
)

// Defaults applied by New for zero Config fields.
const (
	// DefaultKeepAlive is the PULL_DATA interval of the reference forwarder.
	DefaultKeepAlive = 10 * time.Second
	// DefaultAckTimeout bounds how long Push and Pull wait for their ack.
	DefaultAckTimeout = 2 * time.Second
	// DefaultDownlinkBuffer is the capacity of the Downlinks channel.
	DefaultDownlinkBuffer = 16
)

// Errors returned by the Forwarder.
var (
	// ErrNoAck reports that no PUSH_ACK or PULL_ACK came back in time.
	ErrNoAck = errors.New("gwmptest: no acknowledgement")
	// ErrClosed reports use of a closed Forwarder.
	ErrClosed = errors.New("gwmptest: forwarder closed")
	// ErrRunning reports a second call of Run.
	ErrRunning = errors.New("gwmptest: forwarder already ran")
)

// Config configures a Forwarder.
type Config struct {
	// Server is the "host:port" the forwarder sends upstream datagrams to
	// (serv_port_up). Required.
	Server string
	// ServerDown is the "host:port" for downstream datagrams
	// (serv_port_down); empty means Server.
	ServerDown string
	// GatewayEUI is the gateway identifier written into PUSH_DATA,
	// PULL_DATA and TX_ACK.
	GatewayEUI gwmp.EUI
	// Version is the protocol version sent, 1 or 2; 0 means 2. With
	// version 1 the forwarder sends no TX_ACK, like old forwarders.
	Version uint8
	// KeepAlive is the PULL_DATA interval while Run runs; 0 means
	// DefaultKeepAlive, a negative value sends no keepalive at all (call
	// Pull instead). The first keepalive goes out as soon as Run starts.
	KeepAlive time.Duration
	// AckTimeout bounds how long Push and Pull wait; 0 means
	// DefaultAckTimeout.
	AckTimeout time.Duration
	// TxAckError chooses the TX_ACK answer for the n-th PULL_RESP received
	// (counting from 0): "" sends a TX_ACK without JSON (success), any
	// other gwmp.TxError is sent as {"txpk_ack":{"error":...}}. Nil always
	// answers "". It runs on the forwarder's receive goroutine.
	TxAckError func(n int, resp *gwmp.PullResp) gwmp.TxError
	// DownlinkBuffer is the capacity of the Downlinks channel; 0 means
	// DefaultDownlinkBuffer. Downlinks that find it full are dropped and
	// counted.
	DownlinkBuffer int
	// Now is the clock stamped on Downlink.At; nil means time.Now.
	Now func() time.Time
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Server == "" {
		return errors.New("gwmptest: Config.Server is required")
	}
	if c.Version > gwmp.Version2 {
		return fmt.Errorf("gwmptest: Config.Version %d: %w", c.Version, gwmp.ErrVersion)
	}
	if c.DownlinkBuffer < 0 {
		return errors.New("gwmptest: Config.DownlinkBuffer is negative")
	}
	if c.AckTimeout < 0 {
		return errors.New("gwmptest: Config.AckTimeout is negative")
	}
	return nil
}

// Downlink is one PULL_RESP the forwarder received and how it answered it.
type Downlink struct {
	// Seq counts the PULL_RESP received, from 0.
	Seq int
	// Resp is the decoded PULL_RESP.
	Resp *gwmp.PullResp
	// Error is the TX_ACK error the forwarder answered ("" = success).
	Error gwmp.TxError
	// At is when the forwarder received it, by Config.Now.
	At time.Time
}

// Stats counts what the forwarder sent and received.
type Stats struct {
	// PushSent counts PUSH_DATA sent.
	PushSent uint64
	// PushAcked counts PUSH_ACK received for an outstanding PUSH_DATA.
	PushAcked uint64
	// PullSent counts PULL_DATA sent.
	PullSent uint64
	// PullAcked counts PULL_ACK received for an outstanding PULL_DATA.
	PullAcked uint64
	// Downlinks counts PULL_RESP received.
	Downlinks uint64
	// DownlinksDropped counts PULL_RESP that found the channel full.
	DownlinksDropped uint64
	// TxAcks counts TX_ACK sent.
	TxAcks uint64
	// Malformed counts datagrams that failed to decode.
	Malformed uint64
	// Unexpected counts well-formed datagrams the forwarder did not
	// expect: acks for unknown tokens, server-bound packet types.
	Unexpected uint64
}

// waitKey names an outstanding request by the type of its ack and token.
type waitKey struct {
	typ   gwmp.Type
	token uint16
}

// Forwarder is a scripted GWMP client. Create it with New, start it with Run,
// stop it by cancelling Run's context, release it with Close.
type Forwarder struct {
	cfg       Config
	log       *slog.Logger
	up, down  *net.UDPConn
	downlinks chan Downlink
	closed    chan struct{}
	closeOnce sync.Once
	running   atomic.Bool

	mu        sync.Mutex
	token     uint16
	waiters   map[waitKey]chan struct{}
	keepalive *waitKey // the last fire-and-forget PULL_DATA, if unacked
	seq       int

	pushSent, pushAcked, pullSent, pullAcked atomic.Uint64
	downs, downsDropped, txAcks              atomic.Uint64
	malformed, unexpected                    atomic.Uint64
}

// New validates cfg and opens the forwarder's two UDP sockets on
// 127.0.0.1:0, connected to the server. It starts no goroutine.
func New(cfg Config) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ServerDown == "" {
		cfg.ServerDown = cfg.Server
	}
	if cfg.Version == 0 {
		cfg.Version = gwmp.Version2
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.DownlinkBuffer == 0 {
		cfg.DownlinkBuffer = DefaultDownlinkBuffer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	up, err := dial(cfg.Server)
	if err != nil {
		return nil, err
	}
	down, err := dial(cfg.ServerDown)
	if err != nil {
		up.Close()
		return nil, err
	}
	return &Forwarder{
		cfg:       cfg,
		log:       log.With("gateway_eui", cfg.GatewayEUI.String()),
		up:        up,
		down:      down,
		downlinks: make(chan Downlink, cfg.DownlinkBuffer),
		closed:    make(chan struct{}),
		token:     uint16(rand.N(1 << 16)),
		waiters:   make(map[waitKey]chan struct{}),
	}, nil
}

// dial opens a UDP socket on 127.0.0.1:0 connected to addr.
func dial(addr string) (*net.UDPConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("gwmptest: server address %q: %w", addr, err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, raddr)
	if err != nil {
		return nil, fmt.Errorf("gwmptest: dial %s: %w", addr, err)
	}
	return c, nil
}

// UpAddr returns the local address PUSH_DATA is sent from.
func (f *Forwarder) UpAddr() *net.UDPAddr { return f.up.LocalAddr().(*net.UDPAddr) }

// DownAddr returns the local address PULL_DATA and TX_ACK are sent from and
// PULL_RESP must be sent to.
func (f *Forwarder) DownAddr() *net.UDPAddr { return f.down.LocalAddr().(*net.UDPAddr) }

// Downlinks delivers every PULL_RESP received, after its TX_ACK was sent.
func (f *Forwarder) Downlinks() <-chan Downlink { return f.downlinks }

// Stats returns a snapshot of the counters.
func (f *Forwarder) Stats() Stats {
	return Stats{
		PushSent: f.pushSent.Load(), PushAcked: f.pushAcked.Load(),
		PullSent: f.pullSent.Load(), PullAcked: f.pullAcked.Load(),
		Downlinks: f.downs.Load(), DownlinksDropped: f.downsDropped.Load(),
		TxAcks: f.txAcks.Load(), Malformed: f.malformed.Load(), Unexpected: f.unexpected.Load(),
	}
}

// Run receives datagrams and sends keepalives until ctx ends or the
// forwarder is closed. Push and Pull need Run to see their acks. Run may be
// called once; it returns nil when ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	select {
	case <-f.closed:
		return ErrClosed
	default:
	}
	var wg sync.WaitGroup
	wg.Go(func() { f.readLoop(f.up) })
	wg.Go(func() { f.readLoop(f.down) })
	defer func() {
		// Wake the readers; the sockets stay open until Close.
		past := time.Unix(1, 0)
		f.up.SetReadDeadline(past)
		f.down.SetReadDeadline(past)
		wg.Wait()
	}()

	var tick <-chan time.Time
	if f.cfg.KeepAlive > 0 {
		t := time.NewTicker(f.cfg.KeepAlive)
		defer t.Stop()
		tick = t.C
		f.sendKeepalive()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.closed:
			return nil
		case <-tick:
			f.sendKeepalive()
		}
	}
}

// Close closes both sockets; it is idempotent.
func (f *Forwarder) Close() error {
	f.closeOnce.Do(func() {
		close(f.closed)
		f.up.Close()
		f.down.Close()
	})
	return nil
}

// Push sends one PUSH_DATA with rxpk and stat (either may be empty) and waits
// for its PUSH_ACK. It returns the token used, and ErrNoAck when no ack came
// within Config.AckTimeout.
func (f *Forwarder) Push(ctx context.Context, rxpk []gwmp.RXPK, stat *gwmp.Stat) (uint16, error) {
	tok, wait := f.register(gwmp.TypePushAck)
	p := &gwmp.PushData{Header: gwmp.Header{Version: f.cfg.Version, Token: tok}, GatewayEUI: f.cfg.GatewayEUI, RXPK: rxpk, Stat: stat}
	if err := f.send(f.up, p); err != nil {
		f.unregister(gwmp.TypePushAck, tok)
		return tok, err
	}
	f.pushSent.Add(1)
	return tok, f.await(ctx, gwmp.TypePushAck, tok, wait)
}

// Pull sends one PULL_DATA and waits for its PULL_ACK; it returns ErrNoAck
// when none came within Config.AckTimeout.
func (f *Forwarder) Pull(ctx context.Context) error {
	tok, wait := f.register(gwmp.TypePullAck)
	p := &gwmp.PullData{Header: gwmp.Header{Version: f.cfg.Version, Token: tok}, GatewayEUI: f.cfg.GatewayEUI}
	if err := f.send(f.down, p); err != nil {
		f.unregister(gwmp.TypePullAck, tok)
		return err
	}
	f.pullSent.Add(1)
	return f.await(ctx, gwmp.TypePullAck, tok, wait)
}

// SendUp writes raw bytes on the upstream socket, for tests of malformed
// input.
func (f *Forwarder) SendUp(b []byte) error { return f.write(f.up, b) }

// SendDown writes raw bytes on the downstream socket, for tests of malformed
// input.
func (f *Forwarder) SendDown(b []byte) error { return f.write(f.down, b) }

// sendKeepalive sends a PULL_DATA without waiting; its ack is still counted.
func (f *Forwarder) sendKeepalive() {
	tok, _ := f.register(gwmp.TypePullAck)
	f.mu.Lock()
	if f.keepalive != nil {
		delete(f.waiters, *f.keepalive)
	}
	f.keepalive = &waitKey{gwmp.TypePullAck, tok}
	f.mu.Unlock()
	p := &gwmp.PullData{Header: gwmp.Header{Version: f.cfg.Version, Token: tok}, GatewayEUI: f.cfg.GatewayEUI}
	if err := f.send(f.down, p); err != nil {
		f.log.Debug("keepalive not sent", "err", err)
		return
	}
	f.pullSent.Add(1)
}

// register allocates a token and a channel closed when its ack arrives.
func (f *Forwarder) register(ack gwmp.Type) (uint16, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		f.token++
		k := waitKey{ack, f.token}
		if _, busy := f.waiters[k]; !busy {
			ch := make(chan struct{})
			f.waiters[k] = ch
			return f.token, ch
		}
	}
}

// unregister forgets an outstanding request.
func (f *Forwarder) unregister(ack gwmp.Type, tok uint16) {
	f.mu.Lock()
	delete(f.waiters, waitKey{ack, tok})
	f.mu.Unlock()
}

// await waits for an ack, the timeout, ctx or Close.
func (f *Forwarder) await(ctx context.Context, ack gwmp.Type, tok uint16, wait chan struct{}) error {
	t := time.NewTimer(f.cfg.AckTimeout)
	defer t.Stop()
	select {
	case <-wait:
		return nil
	case <-t.C:
		f.unregister(ack, tok)
		return fmt.Errorf("%w: %s for token %#04x within %v", ErrNoAck, ack, tok, f.cfg.AckTimeout)
	case <-ctx.Done():
		f.unregister(ack, tok)
		return ctx.Err()
	case <-f.closed:
		f.unregister(ack, tok)
		return ErrClosed
	}
}

// send encodes and writes one packet.
func (f *Forwarder) send(c *net.UDPConn, p gwmp.Packet) error {
	b, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("gwmptest: encode %s: %w", p.Type(), err)
	}
	return f.write(c, b)
}

// write writes one datagram.
func (f *Forwarder) write(c *net.UDPConn, b []byte) error {
	select {
	case <-f.closed:
		return ErrClosed
	default:
	}
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("gwmptest: write: %w", err)
	}
	return nil
}

// readLoop handles datagrams from one socket until it fails.
func (f *Forwarder) readLoop(c *net.UDPConn) {
	buf := make([]byte, gwmp.MaxDatagramSize+1)
	for {
		n, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable from a server not yet listening
			// surfaces here; keep reading.
			f.log.Debug("read failed", "err", err)
			select {
			case <-f.closed:
				return
			default:
				continue
			}
		}
		f.handle(c, buf[:n])
	}
}

// handle processes one received datagram.
func (f *Forwarder) handle(c *net.UDPConn, b []byte) {
	p, err := gwmp.Decode(b)
	if err != nil {
		f.malformed.Add(1)
		f.log.Debug("malformed datagram", "reason", gwmp.Reason(err), "err", err)
		return
	}
	// Like lora_pkt_fwd, the upstream socket only takes PUSH_ACK and the
	// downstream socket only PULL_ACK and PULL_RESP.
	up := c == f.up
	switch p := p.(type) {
	case *gwmp.PushAck:
		if up && f.ack(gwmp.TypePushAck, p.Token) {
			f.pushAcked.Add(1)
			return
		}
	case *gwmp.PullAck:
		if !up && f.ack(gwmp.TypePullAck, p.Token) {
			f.pullAcked.Add(1)
			return
		}
	case *gwmp.PullResp:
		if !up {
			f.downlink(c, p)
			return
		}
	}
	f.unexpected.Add(1)
	f.log.Debug("unexpected packet", "type", p.Type().String(), "token", p.RandomToken(), "upstream", up)
}

// ack wakes the request waiting for (typ, tok); it reports whether there was
// one (an ack for an unknown token is counted as unexpected by the caller).
func (f *Forwarder) ack(typ gwmp.Type, tok uint16) bool {
	k := waitKey{typ, tok}
	f.mu.Lock()
	ch, ok := f.waiters[k]
	if ok {
		delete(f.waiters, k)
		close(ch)
		if f.keepalive != nil && *f.keepalive == k {
			f.keepalive = nil
		}
	}
	f.mu.Unlock()
	return ok
}

// downlink answers a PULL_RESP with TX_ACK (protocol version 2) and delivers
// it on the Downlinks channel.
func (f *Forwarder) downlink(c *net.UDPConn, p *gwmp.PullResp) {
	f.downs.Add(1)
	f.mu.Lock()
	n := f.seq
	f.seq++
	f.mu.Unlock()
	var txErr gwmp.TxError
	if f.cfg.TxAckError != nil {
		txErr = f.cfg.TxAckError(n, p)
	}
	if p.Version >= gwmp.Version2 {
		if err := f.send(c, p.Ack(f.cfg.GatewayEUI, txErr)); err != nil {
			f.log.Debug("tx_ack not sent", "err", err)
		} else {
			f.txAcks.Add(1)
		}
	}
	select {
	case f.downlinks <- Downlink{Seq: n, Resp: p, Error: txErr, At: f.cfg.Now()}:
	default:
		f.downsDropped.Add(1)
	}
}
