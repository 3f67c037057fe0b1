package broker

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// tcpListener is a mochi listener that, unlike mochi's own, bounds the time
// a connection may take to send CONNECT and closes every accepted connection
// on Close, so a silent or half-open peer can neither hold a goroutine
// forever nor stall the broker's shutdown.
type tcpListener struct {
	id             string
	addr           string
	tls            *tls.Config
	connectTimeout time.Duration
	// disconnect ends the sessions of the clients attached through this
	// listener; Close calls it instead of mochi's own CloseFn (see Close).
	disconnect func(listenerID string)
	log        *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
}

var _ listeners.Listener = (*tcpListener)(nil)

// Init binds the address.
func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	l.mu.Lock()
	l.ln = ln
	l.conns = map[net.Conn]struct{}{}
	l.mu.Unlock()
	return nil
}

// Serve accepts connections until the listener is closed.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Warn("accept failed", "error", err)
			}
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = conn.Close()
			return
		}
		l.conns[conn] = struct{}{}
		l.mu.Unlock()
		// Mochi replaces this deadline with the keepalive once CONNECT is read.
		_ = conn.SetDeadline(time.Now().Add(l.connectTimeout))
		go func() {
			err := establish(l.id, conn)
			if err != nil {
				l.log.Debug("client connection ended", "remote_addr", conn.RemoteAddr().String(), "error", err)
			}
			_ = conn.Close()
			l.mu.Lock()
			delete(l.conns, conn)
			l.mu.Unlock()
		}()
	}
}

// ID returns the listener id.
func (l *tcpListener) ID() string { return l.id }

// Address returns the bound address once Init succeeded.
func (l *tcpListener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

// Protocol names the transport.
func (l *tcpListener) Protocol() string {
	if l.tls != nil {
		return "tls"
	}
	return "tcp"
}

// Close stops accepting, disconnects the attached clients and closes every
// remaining connection.
//
// It ignores mochi's CloseFn: that one lists clients with
// Clients.GetByListener, which takes the clients' read lock twice (it calls
// Len inside its own RLock). A client disconnecting in between queues a
// writer on the lock, the second RLock waits behind it, and the writer waits
// for the first: the broker's shutdown hung for 30 minutes in CI that way.
func (l *tcpListener) Close(_ listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	if l.ln != nil {
		_ = l.ln.Close()
	}
	l.mu.Unlock()
	if l.disconnect != nil {
		l.disconnect(l.id)
	}
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
}
