package mqttc

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// readBufferSize is the read buffer of a TCP or TLS connection to the broker.
const readBufferSize = 16 << 10

// bufferedConn is a connection whose reads go through a buffer. Paho reads
// each packet straight from the connection, a fixed header byte, the length
// bytes and the body in separate calls: a read system call each, three or
// more a message. Through the buffer, a burst of messages costs one.
type bufferedConn struct {
	net.Conn
	r      *bufio.Reader
	broken atomic.Pointer[error] // set by fail
}

// Read reads from the buffer, filling it from the connection when empty.
func (c *bufferedConn) Read(p []byte) (int, error) {
	if err := c.broken.Load(); err != nil {
		return 0, *err
	}
	n, err := c.r.Read(p)
	if e := c.broken.Load(); e != nil {
		return 0, *e
	}
	return n, err
}

// fail makes every read, the one blocked now included, return err.
func (c *bufferedConn) fail(err error) {
	c.broken.Store(&err)
	_ = c.Conn.SetReadDeadline(time.Now())
}

// OpenConnection dials the broker as paho would, and buffers the reads of a
// TCP or TLS connection (a WebSocket connection already reads whole frames).
// Every Client uses it; code that drives paho directly (load generators in
// benchmarks) can pass it to paho's SetCustomOpenConnectionFn.
func OpenConnection(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
	dialer := o.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	var conn net.Conn
	var err error
	switch u.Scheme {
	case "tcp", "mqtt":
		conn, err = dialer.Dial("tcp", u.Host)
	case "ssl", "tls", "mqtts":
		conn, err = tls.DialWithDialer(dialer, "tcp", u.Host, o.TLSConfig)
	case "ws", "wss":
		ws := *u
		ws.User = nil
		var tlsc *tls.Config
		if u.Scheme == "wss" {
			tlsc = o.TLSConfig
		}
		return paho.NewWebsocket(ws.String(), tlsc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		return nil, fmt.Errorf("%w: scheme %q", ErrConfig, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, readBufferSize)}, nil
}
