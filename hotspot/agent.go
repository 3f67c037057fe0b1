package hotspot

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/hexnet/hexnet/firmware/ota"
	"github.com/hexnet/hexnet/hotspot/queue"
	"github.com/hexnet/hexnet/internal/clock"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

// Conn is the agent's MQTT connection (internal/mqttc in production).
type Conn interface {
	// Publish sends payload and returns once the broker acknowledged it (QoS 1).
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
	// IsConnected reports whether the connection is up.
	IsConnected() bool
	// Close disconnects; it is idempotent.
	Close() error
}

// Subscription is a topic the agent follows, with its handler (which must not block).
type Subscription struct {
	Topic   string
	Handler func(topic string, payload []byte)
}

// Dialer opens the agent's MQTT connection. will is the signed offline state
// to register as last will; subs are in place on the broker when it returns
// and after every reconnect; onConnect runs after every (re)connect.
type Dialer func(ctx context.Context, key *identity.Key, will []byte, subs []Subscription, onConnect func()) (Conn, error)

// Hooks let the devnet's cheaters alter what an otherwise honest agent
// reports. All are optional; a nil hook changes nothing.
type Hooks struct {
	// Witness may rewrite a witness report before it is signed, or drop it (return false).
	Witness func(*wire.WitnessReport) bool
	// Beacon may rewrite a beacon report before it is signed.
	Beacon func(*wire.BeaconReport)
	// Extra is called with a publish function so a cheater can inject signed reports of its own.
	Extra func(ctx context.Context, publish func(topic string, m proto.Message) error)
}

// Deps are the agent's collaborators.
type Deps struct {
	Key    *identity.Key
	Dial   Dialer
	Clock  clock.Clock // default: the real clock
	Logger *slog.Logger
	Rand   *mrand.Rand // beacon offsets; default seeded from crypto/rand
	Hooks  Hooks
}

// Agent is the hotspot agent.
type Agent struct {
	cfg     Config
	version string
	key     *identity.Key
	addr    string
	dial    Dialer
	clk     clock.Clock
	log     *slog.Logger
	rng     *mrand.Rand
	hooks   Hooks

	routerKey, entropyKey, configKey *identity.PublicKey

	ready        chan struct{}
	mu           sync.Mutex
	q            *queue.Queue
	conn         Conn
	fwd          *forwarderServer
	udp          *net.UDPConn
	status       net.Listener
	region       wire.Region
	params       *wire.RegionParams
	entropy      *wire.Entropy
	lastBeacon   time.Time
	lastBeaconAt time.Time
	updater      *ota.Updater
	restart      atomic.Bool // the updater switched slots: exit so the supervisor starts the new one
	cancel       context.CancelFunc
	done         chan struct{}
	closed       bool

	stats struct {
		uplinksReceived, uplinksForwarded, uplinksBadCRC atomic.Uint64
		beaconsSent, witnessesSent, downlinksSent        atomic.Uint64
		published, rejectedDownlinks                     atomic.Uint64
	}
}

// ForwarderKeepalive is how recent the forwarder's last PULL_DATA must be for it to count as connected.
const ForwarderKeepalive = 30 * time.Second

// New checks cfg and builds the agent; it opens and starts nothing until Run.
func New(cfg Config, version string, deps Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("hotspot: %w", err)
	}
	if deps.Key == nil || deps.Dial == nil {
		return nil, errors.New("hotspot: Key and Dial are required")
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Rand == nil {
		var seed [16]byte
		_, _ = rand.Read(seed[:])
		deps.Rand = mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	a := &Agent{
		cfg: cfg, version: version, key: deps.Key, addr: string(deps.Key.Address()), dial: deps.Dial,
		clk: deps.Clock, log: deps.Logger.With("hotspot", string(deps.Key.Address())), rng: deps.Rand, hooks: deps.Hooks,
		ready: make(chan struct{}), done: make(chan struct{}),
	}
	var err error
	if a.routerKey, err = optionalKey(cfg.Network.Router, "network.router"); err != nil {
		return nil, err
	}
	if a.entropyKey, err = optionalKey(cfg.Network.Entropy, "network.entropy"); err != nil {
		return nil, err
	}
	if a.configKey, err = optionalKey(cfg.Network.Config, "network.config"); err != nil {
		return nil, err
	}
	if cfg.Region != "" {
		r, err := parseRegion(cfg.Region)
		if err != nil {
			return nil, err
		}
		a.region = r
	}
	return a, nil
}

func optionalKey(addr, field string) (*identity.PublicKey, error) {
	if addr == "" {
		return nil, nil
	}
	pk, err := identity.ParseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("hotspot: %s: %w", field, err)
	}
	return &pk, nil
}

// Ready is closed once the agent's sockets are bound and its queue is open.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// ForwarderAddr is the bound Semtech UDP address (valid after Ready).
func (a *Agent) ForwarderAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.udp == nil {
		return ""
	}
	return a.udp.LocalAddr().String()
}

// StatusAddr is the bound status HTTP address (valid after Ready; "" when disabled).
func (a *Agent) StatusAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status == nil {
		return ""
	}
	return a.status.Addr().String()
}

// Run opens the queue, binds the forwarder and status sockets, connects to
// the network and works until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	if a.closed || a.cancel != nil {
		a.mu.Unlock()
		cancel()
		return errors.New("hotspot: agent already run or closed")
	}
	a.cancel = cancel
	a.mu.Unlock()
	defer close(a.done)
	defer cancel()

	if a.region == wire.Region_REGION_UNKNOWN {
		if r, p, err := loadRegionCache(a.regionCachePath()); err == nil {
			a.region, a.params = r, p
		}
	}
	q, err := queue.Open(filepath.Join(a.cfg.DataDir, "queue"), queue.Options{MaxBytes: a.cfg.Queue.MaxBytes})
	if err != nil {
		return fmt.Errorf("hotspot: %w", err)
	}
	defer q.Close()
	uaddr, err := net.ResolveUDPAddr("udp", a.cfg.Forward.Listen)
	if err != nil {
		return fmt.Errorf("hotspot: forwarder.listen: %w", err)
	}
	udp, err := net.ListenUDP("udp", uaddr)
	if err != nil {
		return fmt.Errorf("hotspot: forwarder listen: %w", err)
	}
	defer udp.Close()
	// Forwarder liveness is about the socket, so it runs on wall time even under a simulated clock.
	fwd := newForwarderServer(udp, a.log, time.Now, a.onPush)
	var statusLn net.Listener
	if a.cfg.Status.Listen != "" {
		if statusLn, err = net.Listen("tcp", a.cfg.Status.Listen); err != nil {
			return fmt.Errorf("hotspot: status listen: %w", err)
		}
	}
	a.mu.Lock()
	a.q, a.udp, a.fwd, a.status = q, udp, fwd, statusLn
	a.mu.Unlock()

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goRun := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	goRun(fwd.serve)
	if statusLn != nil {
		srv := &http.Server{Handler: a.statusHandler(), ReadHeaderTimeout: 5 * time.Second}
		goRun(func(ctx context.Context) error {
			go func() { <-ctx.Done(); srv.Close() }()
			if err := srv.Serve(statusLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	close(a.ready)
	a.log.Info("hotspot agent started", "name", a.key.Public().Name(), "forwarder", udp.LocalAddr().String(), "region", regionName(a.currentRegion()))

	goRun(a.connectLoop)
	if a.cfg.Update.Enabled {
		u, err := a.newUpdater(cancel)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		a.mu.Lock()
		a.updater = u
		a.mu.Unlock()
		goRun(u.Run)
	}
	<-ctx.Done()
	udp.Close()
	wg.Wait()
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	if conn != nil {
		// A clean shutdown says offline explicitly (the will covers crashes).
		if b, err := a.stateMessage(false); err == nil {
			pctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			_ = conn.Publish(pctx, wire.StateTopic(a.addr), 1, true, b)
			c()
		}
		conn.Close()
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	if a.restart.Load() {
		return ErrRestart
	}
	return nil
}

// ErrRestart is returned by Run when an update switched slots: the process
// should exit non-zero so its supervisor (systemd) starts the new version.
var ErrRestart = errors.New("hotspot: restarting into the updated agent")

func (a *Agent) newUpdater(cancel context.CancelFunc) (*ota.Updater, error) {
	return ota.New(ota.Config{
		DataDir:        a.cfg.DataDir,
		Channel:        a.cfg.Update.Channel,
		BaseURL:        a.cfg.Update.APIURL,
		ReleaseKey:     a.cfg.Network.Release,
		Version:        a.version,
		CheckInterval:  a.cfg.Update.CheckInterval,
		HealthDeadline: a.cfg.Update.HealthDeadline,
		InstallerHook:  a.cfg.Update.InstallerHook,
	}, ota.Deps{
		HealthCheck: a.waitConnected,
		Restart:     func() { a.restart.Store(true); cancel() },
		Log:         a.log.With("component", "ota"),
	})
}

// waitConnected returns once the agent is connected to the broker (the update health check).
func (a *Agent) waitConnected(ctx context.Context) error {
	for {
		a.mu.Lock()
		conn := a.conn
		a.mu.Unlock()
		if conn != nil && conn.IsConnected() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// onRelease hands a retained release announcement to the updater.
func (a *Agent) onRelease(b []byte) {
	var r wire.Release
	if err := wire.Unmarshal(b, &r); err != nil {
		a.log.Warn("release announcement rejected", "err", err)
		return
	}
	a.mu.Lock()
	u := a.updater
	a.mu.Unlock()
	if u == nil {
		return
	}
	if err := u.OnRelease(&r); err != nil {
		a.log.Warn("release announcement rejected", "err", err)
	}
}

// Close stops a running agent and waits for Run to return. It is idempotent.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-a.done
	}
	return nil
}

// connectLoop dials the network (retrying with backoff) and then runs the
// loops that need the connection.
func (a *Agent) connectLoop(ctx context.Context) error {
	will, err := a.stateMessage(false)
	if err != nil {
		return err
	}
	subs := []Subscription{
		{wire.DownTopic(a.addr), func(_ string, b []byte) { go a.onDown(ctx, b) }},
		{wire.ConfigTopic(a.addr), func(_ string, b []byte) { a.onConfig(b) }},
		{wire.EntropyTopic, func(_ string, b []byte) { a.onEntropy(b) }},
	}
	if a.cfg.Update.Enabled {
		subs = append(subs, Subscription{wire.ReleaseTopic(a.cfg.Update.Channel), func(_ string, b []byte) { a.onRelease(b) }})
	}
	delay := time.Second
	var conn Conn
	for {
		conn, err = a.dial(ctx, a.key, will, subs, func() { a.onConnect(ctx) })
		if err == nil {
			break
		}
		a.log.Warn("broker unreachable; reports queue on disk", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		if delay *= 2; delay > a.cfg.Broker.MaxReconnectDelay {
			delay = a.cfg.Broker.MaxReconnectDelay
		}
	}
	a.mu.Lock()
	a.conn = conn
	a.mu.Unlock()
	a.onConnect(ctx)
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){a.drainLoop, a.beaconLoop, a.statsLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	if a.hooks.Extra != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.hooks.Extra(ctx, a.publishSigned) }()
	}
	wg.Wait()
	return nil
}

// onConnect publishes the retained online state.
func (a *Agent) onConnect(ctx context.Context) {
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	if conn == nil {
		return
	}
	go func() {
		b, err := a.stateMessage(true)
		if err != nil {
			return
		}
		pctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		if err := conn.Publish(pctx, wire.StateTopic(a.addr), 1, true, b); err != nil {
			a.log.Debug("publish online state", "err", err)
		}
	}()
}

func (a *Agent) stateMessage(online bool) ([]byte, error) {
	st := &wire.HotspotState{
		Online:             online,
		TimestampMs:        uint64(a.clk.Now().UnixMilli()),
		Version:            a.version,
		Region:             a.currentRegion(),
		ForwarderConnected: a.forwarderConnected(),
		Stats:              a.statsMessage(),
	}
	if err := a.key.Sign(st); err != nil {
		return nil, err
	}
	return wire.Marshal(st)
}

func (a *Agent) statsMessage() *wire.HotspotStats {
	s := &wire.HotspotStats{
		UplinksReceived:  a.stats.uplinksReceived.Load(),
		UplinksForwarded: a.stats.uplinksForwarded.Load(),
		UplinksBadCrc:    a.stats.uplinksBadCRC.Load(),
		BeaconsSent:      a.stats.beaconsSent.Load(),
		WitnessesSent:    a.stats.witnessesSent.Load(),
		DownlinksSent:    a.stats.downlinksSent.Load(),
	}
	a.mu.Lock()
	if a.q != nil {
		s.QueueDepth = uint64(a.q.Len())
		s.QueueDropped = a.q.Dropped()
	}
	if a.fwd != nil {
		s.MalformedDatagrams = a.fwd.malformed.Load()
	}
	a.mu.Unlock()
	return s
}

func (a *Agent) forwarderConnected() bool {
	a.mu.Lock()
	f := a.fwd
	a.mu.Unlock()
	return f != nil && f.connected(ForwarderKeepalive)
}

func (a *Agent) statsLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.clk.After(a.cfg.Broker.StatsInterval):
		}
		b, err := a.stateMessage(true)
		if err != nil {
			continue
		}
		a.mu.Lock()
		conn := a.conn
		a.mu.Unlock()
		if conn.IsConnected() {
			pctx, c := context.WithTimeout(ctx, 10*time.Second)
			_ = conn.Publish(pctx, wire.StateTopic(a.addr), 1, true, b)
			c()
		}
	}
}

// record is a queued report: its topic and its encoded message.
func encodeRecord(topic string, payload []byte) []byte {
	b := make([]byte, 2, 2+len(topic)+len(payload))
	binary.BigEndian.PutUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	return append(b, payload...)
}

func decodeRecord(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errors.New("hotspot: short queue record")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, errors.New("hotspot: truncated queue record")
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// enqueue signs messages and appends them to the durable queue in one fsync.
func (a *Agent) enqueue(msgs []topicMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	recs := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		if err := a.key.Sign(m.msg); err != nil {
			return err
		}
		b, err := wire.Marshal(envelope(m.msg))
		if err != nil {
			return err
		}
		recs = append(recs, encodeRecord(m.topic, b))
	}
	a.mu.Lock()
	q := a.q
	a.mu.Unlock()
	return q.Append(recs...)
}

// envelope wraps signed PoC reports in the PocReport envelope of the poc/{p} topics.
func envelope(m proto.Message) proto.Message {
	switch r := m.(type) {
	case *wire.BeaconReport:
		return &wire.PocReport{Report: &wire.PocReport_Beacon{Beacon: r}}
	case *wire.WitnessReport:
		return &wire.PocReport{Report: &wire.PocReport_Witness{Witness: r}}
	}
	return m
}

type topicMsg struct {
	topic string
	msg   proto.Message
}

// publishSigned signs m and queues it (the cheating hook's way in).
func (a *Agent) publishSigned(topic string, m proto.Message) error {
	return a.enqueue([]topicMsg{{topic, m}})
}

// drainLoop publishes queued reports in order, removing each only after the broker acknowledged it.
func (a *Agent) drainLoop(ctx context.Context) {
	a.mu.Lock()
	q, conn := a.q, a.conn
	a.mu.Unlock()
	for ctx.Err() == nil {
		rec, err := q.Peek()
		if errors.Is(err, queue.ErrEmpty) {
			select {
			case <-ctx.Done():
				return
			case <-q.Ready():
			case <-time.After(time.Second):
			}
			continue
		}
		if err != nil {
			a.log.Error("queue read", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		topic, payload, err := decodeRecord(rec)
		if err != nil {
			a.log.Error("dropping corrupt queue record", "err", err)
			_ = q.Pop()
			continue
		}
		if !conn.IsConnected() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		pctx, c := context.WithTimeout(ctx, 10*time.Second)
		err = conn.Publish(pctx, topic, 1, false, payload)
		c()
		if err != nil {
			a.log.Debug("publish failed; will retry", "topic", topic, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		a.stats.published.Add(1)
		if err := q.Pop(); err != nil {
			a.log.Error("queue pop", "err", err)
		}
	}
}
