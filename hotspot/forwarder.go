package hotspot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexnet/hexnet/internal/gwmp"
)

// forwarderServer is the agent's Semtech UDP (GWMP) server: the packet
// forwarder pushes received frames to it and pulls downlinks from it.
type forwarderServer struct {
	log  *slog.Logger
	conn *net.UDPConn
	now  func() time.Time

	// onPush handles a PUSH_DATA; the PUSH_ACK is sent only after it
	// returns nil, i.e. after its reports are on disk.
	onPush func(*gwmp.PushData) error

	mu        sync.Mutex
	pullAddr  *net.UDPAddr // where PULL_RESP goes (the forwarder's downstream socket)
	gateway   gwmp.EUI
	version   uint8
	lastPull  time.Time
	pending   map[uint16]chan gwmp.TxError
	nextToken uint16

	malformed atomic.Uint64
	reasons   sync.Map // reason string -> *atomic.Uint64
}

func newForwarderServer(conn *net.UDPConn, log *slog.Logger, now func() time.Time, onPush func(*gwmp.PushData) error) *forwarderServer {
	return &forwarderServer{conn: conn, log: log, now: now, onPush: onPush, pending: map[uint16]chan gwmp.TxError{}}
}

func (f *forwarderServer) count(reason string) {
	f.malformed.Add(1)
	v, _ := f.reasons.LoadOrStore(reason, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// malformedByReason returns the malformed-datagram counters by reason.
func (f *forwarderServer) malformedByReason() map[string]uint64 {
	out := map[string]uint64{}
	f.reasons.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// connected reports whether the forwarder pulled within the last keepalive window.
func (f *forwarderServer) connected(window time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pullAddr != nil && f.now().Sub(f.lastPull) < window
}

// serve reads datagrams until the socket is closed.
func (f *forwarderServer) serve(ctx context.Context) error {
	buf := make([]byte, gwmp.MaxDatagramSize)
	for {
		n, addr, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("hotspot: forwarder socket: %w", err)
		}
		pkt, err := gwmp.Decode(buf[:n])
		if err != nil {
			f.count(gwmp.Reason(err))
			f.log.Debug("malformed datagram", "from", addr.String(), "reason", gwmp.Reason(err), "err", err)
			continue
		}
		f.handle(pkt, addr)
	}
}

func (f *forwarderServer) send(p gwmp.Packet, addr *net.UDPAddr) {
	b, err := p.MarshalBinary()
	if err != nil {
		f.log.Error("encode datagram", "type", p.Type(), "err", err)
		return
	}
	if _, err := f.conn.WriteToUDP(b, addr); err != nil {
		f.log.Warn("send datagram", "to", addr.String(), "err", err)
	}
}

func (f *forwarderServer) handle(pkt gwmp.Packet, addr *net.UDPAddr) {
	switch p := pkt.(type) {
	case *gwmp.PushData:
		if err := f.onPush(p); err != nil {
			// No ACK: the forwarder will count it as lost rather than believe it delivered.
			f.log.Error("push data not persisted; not acknowledged", "err", err)
			return
		}
		f.send(p.Ack(), addr)
	case *gwmp.PullData:
		f.mu.Lock()
		f.pullAddr, f.gateway, f.version, f.lastPull = addr, p.GatewayEUI, p.ProtocolVersion(), f.now()
		f.mu.Unlock()
		f.send(p.Ack(), addr)
	case *gwmp.TxAck:
		f.mu.Lock()
		ch := f.pending[p.RandomToken()]
		delete(f.pending, p.RandomToken())
		f.mu.Unlock()
		if ch == nil {
			f.count("unexpected_tx_ack")
			return
		}
		ch <- p.Error
	default:
		// PUSH_ACK, PULL_ACK, PULL_RESP are for the other direction.
		f.count("unexpected_type")
	}
}

// ErrNoForwarder is returned when no forwarder has pulled yet.
var ErrNoForwarder = errors.New("hotspot: no packet forwarder connected")

// transmit sends a PULL_RESP and waits for the forwarder's TX_ACK.
func (f *forwarderServer) transmit(ctx context.Context, txpk gwmp.TXPK, timeout time.Duration) (gwmp.TxError, error) {
	f.mu.Lock()
	addr := f.pullAddr
	if addr == nil {
		f.mu.Unlock()
		return "", ErrNoForwarder
	}
	f.nextToken++
	tok := f.nextToken
	ch := make(chan gwmp.TxError, 1)
	f.pending[tok] = ch
	version := f.version
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.pending, tok)
		f.mu.Unlock()
	}()
	resp := &gwmp.PullResp{Header: gwmp.Header{Version: version, Token: tok}, TXPK: txpk}
	b, err := resp.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("hotspot: encode txpk: %w", err)
	}
	if _, err := f.conn.WriteToUDP(b, addr); err != nil {
		return "", fmt.Errorf("hotspot: send txpk: %w", err)
	}
	if version < gwmp.Version2 {
		// Protocol v1 forwarders send no TX_ACK.
		return gwmp.TxErrorNone, nil
	}
	select {
	case e := <-ch:
		return e, nil
	case <-time.After(timeout):
		return "", errTxTimeout
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

var errTxTimeout = errors.New("hotspot: no TX_ACK from the forwarder")
