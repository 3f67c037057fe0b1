// Package live is the explorer's live feed: a hub that fans network events
// (beacons, witnesses with verdicts, packets, epoch closes, mapper samples)
// out to WebSocket clients, each with its own filter and bounded send buffer.
//
// Publishing never blocks: events go into a bounded queue (dropped and
// counted when it is full), the hub's Run goroutine encodes each event once
// and offers it to every matching client without waiting; a client whose
// buffer is full is disconnected with close code 1008 and the reason
// "slow client: send buffer full".
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Event types carried by the feed.
const (
	TypeBeacon  = "beacon"
	TypeWitness = "witness"
	TypePacket  = "packet"
	TypeEpoch   = "epoch"
	TypeMapper  = "mapper"
	TypeState   = "state"
)

// CloseReasonSlow is the close reason sent to a client whose buffer filled.
const CloseReasonSlow = "slow client: send buffer full"

// Sentinel errors.
var (
	// ErrClosed is returned by Run after Close, and refuses new clients.
	ErrClosed = errors.New("live: hub closed")
	// ErrBadFilter is returned for a malformed bbox, hotspot or types filter.
	ErrBadFilter = errors.New("live: bad filter")
)

// Point is a WGS84 position an event touches (used by bbox filters).
type Point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// Event is one message of the feed. Hotspots and Points say what it touches,
// for filtering; Data is the type-specific payload.
type Event struct {
	Type     string    `json:"type"`
	At       time.Time `json:"at"`
	Hotspots []string  `json:"hotspots,omitempty"`
	Points   []Point   `json:"points,omitempty"`
	Data     any       `json:"data,omitempty"`
}

// Config tunes the hub. Zero fields take their defaults.
type Config struct {
	// ClientBuffer is how many encoded events may wait for one client before
	// it is disconnected as slow. Default 256.
	ClientBuffer int `toml:"client_buffer" help:"events that may wait for one client before it is disconnected as slow"`
	// QueueSize bounds events waiting for the fan-out goroutine; beyond it
	// Publish drops and counts. Default 8192.
	QueueSize int `toml:"queue_size" help:"events waiting for the fan-out; beyond it events are dropped and counted"`
	// WriteTimeout bounds one write to a client. Default 10 s.
	WriteTimeout time.Duration `toml:"write_timeout" help:"bound on one write to a client"`
	// PingInterval is how often idle clients are pinged. Default 30 s.
	PingInterval time.Duration `toml:"ping_interval" help:"how often idle clients are pinged"`
	// MaxClients caps concurrent clients; more are refused with 503. Default 10000.
	MaxClients int `toml:"max_clients" help:"concurrent live feed clients; more are refused with 503"`
}

// Validate reports a negative setting.
func (c Config) Validate() error {
	if c.ClientBuffer < 0 || c.QueueSize < 0 || c.WriteTimeout < 0 || c.PingInterval < 0 || c.MaxClients < 0 {
		return fmt.Errorf("live: negative config value")
	}
	return nil
}

func (c *Config) defaults() {
	if c.ClientBuffer == 0 {
		c.ClientBuffer = 256
	}
	if c.QueueSize == 0 {
		c.QueueSize = 8192
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.MaxClients == 0 {
		c.MaxClients = 10000
	}
}

// Deps are the hub's collaborators.
type Deps struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Stats are the hub's counters.
type Stats struct {
	Clients         int    `json:"clients"`
	Published       uint64 `json:"published"`
	Dropped         uint64 `json:"dropped"`
	Delivered       uint64 `json:"delivered"`
	SlowDisconnects uint64 `json:"slow_disconnects"`
}

// Hub fans events out to WebSocket clients.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	queue chan Event
	up    websocket.Upgrader

	mu      sync.Mutex
	clients map[*client]struct{}
	gen     int // bumped whenever clients changes
	closed  bool

	done      chan struct{}
	closeOnce sync.Once

	published, dropped, delivered, slow atomic.Uint64
}

// New returns a hub; it fans nothing out until Run.
func New(cfg Config, deps Deps) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Hub{
		cfg:     cfg,
		log:     log,
		queue:   make(chan Event, cfg.QueueSize),
		clients: make(map[*client]struct{}),
		done:    make(chan struct{}),
		up: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 4096,
			// The feed is public, read-only data: any origin may subscribe.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}, nil
}

// Publish offers ev to the feed without blocking; it reports false when the
// queue was full (the event is dropped and counted) or the hub is closed.
func (h *Hub) Publish(ev Event) bool {
	select {
	case <-h.done:
		return false
	default:
	}
	select {
	case h.queue <- ev:
		h.published.Add(1)
		return true
	default:
		h.dropped.Add(1)
		return false
	}
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.clients)
	h.mu.Unlock()
	return Stats{Clients: n, Published: h.published.Load(), Dropped: h.dropped.Load(),
		Delivered: h.delivered.Load(), SlowDisconnects: h.slow.Load()}
}

// Run fans queued events out until ctx ends or Close, then disconnects every
// client with "going away".
func (h *Hub) Run(ctx context.Context) error {
	defer h.Close()
	var clients []*client
	version := -1
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.done:
			return ErrClosed
		case ev := <-h.queue:
			msg, err := json.Marshal(ev)
			if err != nil {
				h.log.Warn("live: event not encodable", "type", ev.Type, "err", err)
				continue
			}
			clients, version = h.snapshot(clients, version)
			for _, c := range clients {
				if !c.match(&ev) {
					continue
				}
				select {
				case c.send <- msg:
					h.delivered.Add(1)
				default:
					h.kick(c, websocket.ClosePolicyViolation, CloseReasonSlow)
					h.slow.Add(1)
				}
			}
		}
	}
}

// snapshot returns the current client list, reusing buf when nothing changed.
func (h *Hub) snapshot(buf []*client, version int) ([]*client, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if version == h.version() {
		return buf, version
	}
	buf = buf[:0]
	for c := range h.clients {
		buf = append(buf, c)
	}
	return buf, h.version()
}

// version changes whenever the client set does (a cheap generation count).
func (h *Hub) version() int { return h.gen }

// Close disconnects every client and stops Run; it is idempotent.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		close(h.done)
		h.mu.Lock()
		h.closed = true
		cs := make([]*client, 0, len(h.clients))
		for c := range h.clients {
			cs = append(cs, c)
		}
		h.mu.Unlock()
		for _, c := range cs {
			h.kick(c, websocket.CloseGoingAway, "server shutting down")
		}
	})
}

// kick removes c and makes its writer send a close frame and hang up.
func (h *Hub) kick(c *client, code int, reason string) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.gen++
	}
	h.mu.Unlock()
	c.kickOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		close(c.kicked)
	})
}

// ServeHTTP upgrades the request to a WebSocket and streams matching events.
// Query parameters: bbox=minLng,minLat,maxLng,maxLat, hotspot=addr[,addr…],
// types=beacon,witness,…. The client may change its filter later by sending
// {"type":"subscribe","bbox":[…],"hotspots":[…],"types":[…]}.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := parseQueryFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	refused := h.closed || len(h.clients) >= h.cfg.MaxClients
	h.mu.Unlock()
	if refused {
		http.Error(w, "live feed unavailable", http.StatusServiceUnavailable)
		return
	}
	conn, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client.
	}
	c := &client{conn: conn, send: make(chan []byte, h.cfg.ClientBuffer), kicked: make(chan struct{})}
	c.filter.Store(f)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.gen++
	h.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		h.writeLoop(c)
	}()
	h.readLoop(c)
	h.kick(c, websocket.CloseNormalClosure, "")
	<-writerDone
}

// readLoop handles subscribe messages until the connection fails.
func (h *Hub) readLoop(c *client) {
	c.conn.SetReadLimit(8 << 10)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		f, err := parseSubscribe(data)
		if err != nil {
			c.notice(err.Error())
			continue
		}
		c.filter.Store(f)
	}
}

// writeLoop sends queued messages and pings until kicked.
func (h *Hub) writeLoop(c *client) {
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	defer c.conn.Close()
	for {
		select {
		case msg := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				h.kick(c, websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.WriteTimeout)); err != nil {
				h.kick(c, websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.kicked:
			if c.closeCode != websocket.CloseAbnormalClosure {
				// A slow client's TCP window may be full: only this goroutine
				// (never the hub) waits, at most WriteTimeout, for it to
				// drain far enough to take the close frame.
				_ = c.conn.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(c.closeCode, c.closeReason), time.Now().Add(h.cfg.WriteTimeout))
			}
			return
		}
	}
}

// client is one subscriber.
type client struct {
	conn   *websocket.Conn
	send   chan []byte
	filter atomic.Pointer[Filter]

	kicked      chan struct{}
	kickOnce    sync.Once
	closeCode   int
	closeReason string
}

// notice queues an error message to the client without blocking.
func (c *client) notice(msg string) {
	b, _ := json.Marshal(map[string]any{"type": "error", "data": map[string]string{"message": msg}})
	select {
	case c.send <- b:
	default:
	}
}

func (c *client) match(ev *Event) bool { return c.filter.Load().Match(ev) }

// Filter selects events for one client. Empty parts match everything.
type Filter struct {
	// BBox is minLng, minLat, maxLng, maxLat; nil means the whole world.
	BBox *[4]float64
	// Hotspots keeps events touching any of these addresses.
	Hotspots map[string]bool
	// Types keeps events of these types.
	Types map[string]bool
}

// Match reports whether ev passes f: every non-empty part must match.
func (f *Filter) Match(ev *Event) bool {
	if f == nil {
		return true
	}
	if len(f.Types) > 0 && !f.Types[ev.Type] {
		return false
	}
	if len(f.Hotspots) > 0 {
		ok := false
		for _, a := range ev.Hotspots {
			if f.Hotspots[a] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.BBox != nil && ev.Type != TypeEpoch {
		b := f.BBox
		ok := false
		for _, p := range ev.Points {
			if p.Lng >= b[0] && p.Lat >= b[1] && p.Lng <= b[2] && p.Lat <= b[3] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ParseBBox parses "minLng,minLat,maxLng,maxLat".
func ParseBBox(s string) (*[4]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, fmt.Errorf("%w: bbox needs 4 numbers minLng,minLat,maxLng,maxLat", ErrBadFilter)
	}
	var b [4]float64
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: bbox: %q is not a number", ErrBadFilter, p)
		}
		b[i] = v
	}
	return checkBBox(b)
}

func checkBBox(b [4]float64) (*[4]float64, error) {
	for _, v := range b {
		if v != v { // NaN
			return nil, fmt.Errorf("%w: bbox: NaN", ErrBadFilter)
		}
	}
	if b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[0] > b[2] || b[1] > b[3] {
		return nil, fmt.Errorf("%w: bbox out of range or inverted", ErrBadFilter)
	}
	return &b, nil
}

func parseQueryFilter(r *http.Request) (*Filter, error) {
	q := r.URL.Query()
	f := &Filter{}
	if s := q.Get("bbox"); s != "" {
		b, err := ParseBBox(s)
		if err != nil {
			return nil, err
		}
		f.BBox = b
	}
	f.Hotspots = set(q["hotspot"])
	f.Types = set(q["types"])
	return f, nil
}

func set(vals []string) map[string]bool {
	var m map[string]bool
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				if m == nil {
					m = make(map[string]bool)
				}
				m[p] = true
			}
		}
	}
	return m
}

// subscribeMsg is the client's filter update.
type subscribeMsg struct {
	Type     string    `json:"type"`
	BBox     []float64 `json:"bbox"`
	Hotspots []string  `json:"hotspots"`
	Types    []string  `json:"types"`
}

// ParseSubscribe decodes a client's subscribe message into a Filter.
func ParseSubscribe(data []byte) (*Filter, error) { return parseSubscribe(data) }

func parseSubscribe(data []byte) (*Filter, error) {
	var m subscribeMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFilter, err)
	}
	if m.Type != "subscribe" {
		return nil, fmt.Errorf("%w: unknown message type %q", ErrBadFilter, m.Type)
	}
	f := &Filter{Hotspots: set(m.Hotspots), Types: set(m.Types)}
	if len(m.BBox) != 0 {
		if len(m.BBox) != 4 {
			return nil, fmt.Errorf("%w: bbox needs 4 numbers", ErrBadFilter)
		}
		b, err := checkBBox([4]float64{m.BBox[0], m.BBox[1], m.BBox[2], m.BBox[3]})
		if err != nil {
			return nil, err
		}
		f.BBox = b
	}
	return f, nil
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.defaults()
	return c
}
