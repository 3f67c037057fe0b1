// Package loadgen is the benchmarks' MQTT load generator: a publisher that
// speaks just enough MQTT 3.1.1 to log in and publish at QoS 1, with one
// goroutine per connection. Benchmarks run the publishers (hotspots, in
// production on their own machines) in the same process as the broker and
// the service they measure; a full client (paho: five goroutines, a token
// and a channel per message) would spend the shared cores and inflate the
// heap the garbage collector marks, and the figures would measure the load
// generator as much as the server. The broker sees the same packets as from
// any client.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// ErrClosed is returned once the connection is closed or broken.
var ErrClosed = errors.New("loadgen: connection closed")

// Publisher is one MQTT connection that publishes at QoS 1. It is safe for
// concurrent use.
type Publisher struct {
	conn net.Conn

	mu      sync.Mutex
	w       *bufio.Writer
	id      uint16
	waiting map[uint16]chan struct{} // PublishWait calls by packet id
	sent    int64                    // PUBLISHes written
	acked   int64                    // PUBACKs read
	err     error                    // why the reader stopped
	done    chan struct{}            // closed when the reader stops
}

// Dial connects to a broker at addr (host:port) and logs in with a clean
// session.
func Dial(ctx context.Context, addr, clientID, username, password string) (*Publisher, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion, cp.CleanSession, cp.Keepalive = "MQTT", 4, true, 0
	cp.ClientIdentifier = clientID
	cp.UsernameFlag, cp.Username = username != "", username
	cp.PasswordFlag, cp.Password = password != "", []byte(password)
	if err := cp.Write(conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("loadgen: connect: %w", err)
	}
	r := bufio.NewReaderSize(conn, 4<<10)
	pk, err := packets.ReadPacket(r)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("loadgen: connack: %w", err)
	}
	if ca, ok := pk.(*packets.ConnackPacket); !ok || ca.ReturnCode != 0 {
		_ = conn.Close()
		return nil, fmt.Errorf("loadgen: connect refused: %v", pk)
	}
	_ = conn.SetDeadline(time.Time{})
	p := &Publisher{conn: conn, w: bufio.NewWriterSize(conn, 4<<10), waiting: map[uint16]chan struct{}{}, done: make(chan struct{})}
	go p.read(r)
	return p, nil
}

func (p *Publisher) read(r *bufio.Reader) {
	defer close(p.done)
	for {
		pk, err := packets.ReadPacket(r)
		if err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		ack, ok := pk.(*packets.PubackPacket)
		if !ok {
			continue
		}
		p.mu.Lock()
		p.acked++
		if ch, ok := p.waiting[ack.MessageID]; ok {
			delete(p.waiting, ack.MessageID)
			close(ch)
		}
		p.mu.Unlock()
	}
}

// writeLocked buffers one QoS 1 PUBLISH and returns its packet id.
func (p *Publisher) writeLocked(topic string, payload []byte) (uint16, error) {
	if p.err != nil {
		return 0, fmt.Errorf("%w: %w", ErrClosed, p.err)
	}
	pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pp.Qos, pp.TopicName, pp.Payload = 1, topic, payload
	for { // skip ids still awaited (only after 65,535 publishes in flight)
		p.id = p.id%65535 + 1
		if _, busy := p.waiting[p.id]; !busy {
			break
		}
	}
	pp.MessageID = p.id
	if err := pp.Write(p.w); err != nil {
		return 0, fmt.Errorf("loadgen: publish: %w", err)
	}
	p.sent++
	return p.id, nil
}

// Publish buffers a QoS 1 PUBLISH without waiting; Flush sends the buffer
// (it is also sent whenever it fills).
func (p *Publisher) Publish(topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.writeLocked(topic, payload)
	return err
}

// Flush sends what Publish buffered.
func (p *Publisher) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("loadgen: flush: %w", err)
	}
	return nil
}

// PublishWait sends a QoS 1 PUBLISH at once and returns when the broker
// acknowledged it, or with ctx's error.
func (p *Publisher) PublishWait(ctx context.Context, topic string, payload []byte) error {
	ch := make(chan struct{})
	p.mu.Lock()
	id, err := p.writeLocked(topic, payload)
	if err == nil {
		p.waiting[id] = ch
		if err = p.w.Flush(); err != nil {
			delete(p.waiting, id)
		}
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Drain flushes and waits until every PUBLISH so far is acknowledged.
func (p *Publisher) Drain(ctx context.Context) error {
	if err := p.Flush(); err != nil {
		return err
	}
	for {
		p.mu.Lock()
		sent, acked, rerr := p.sent, p.acked, p.err
		p.mu.Unlock()
		switch {
		case acked >= sent:
			return nil
		case rerr != nil:
			return fmt.Errorf("%w: %d of %d acknowledged: %w", ErrClosed, acked, sent, rerr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: %d of %d acknowledged: %w", acked, sent, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Close sends DISCONNECT and closes the connection. It is idempotent.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.err == nil {
		_ = packets.NewControlPacket(packets.Disconnect).Write(p.w)
		_ = p.w.Flush()
	}
	p.mu.Unlock()
	err := p.conn.Close()
	<-p.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
