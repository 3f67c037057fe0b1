package entropy

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/store"
	"github.com/hexnet/hexnet/internal/wire"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type published struct {
	topic    string
	payload  []byte
	retained bool
}

type pubRecorder struct {
	mu  sync.Mutex
	got []published
	err error
}

func (p *pubRecorder) publish(topic string, payload []byte, retained bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, published{topic, payload, retained})
	return p.err
}

func (p *pubRecorder) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }

func oracleKey(t *testing.T) *identity.Key {
	k, err := identity.FromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestChain(t *testing.T) {
	key := oracleKey(t)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	pub := &pubRecorder{}
	st := NewMemStore()
	rnd := bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4}, 64))
	o, err := New(DefaultConfig(), Deps{Key: key, Store: st, Publish: pub.publish, Clock: clk.Now, Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	var prev *wire.Entropy
	for i := range 3 {
		e, err := o.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Timestamp != clk.Now().Unix() || e.Version != Version {
			t.Fatalf("timestamp %d version %d", e.Timestamp, e.Version)
		}
		if err := Check(e, key.Public()); err != nil {
			t.Fatal(err)
		}
		var prevData []byte
		if prev != nil {
			prevData = prev.Data
		}
		if !bytes.Equal(e.Previous, prevData) {
			t.Fatalf("step %d: previous not chained", i)
		}
		fresh := bytes.Repeat([]byte{1, 2, 3, 4}, 8)
		if !bytes.Equal(e.Data, Derive(prevData, e.Timestamp, fresh)) {
			t.Fatalf("step %d: data is not SHA-256(previous ‖ ts ‖ fresh)", i)
		}
		got, err := st.Get(e.Data)
		if err != nil || got != e {
			t.Fatalf("not kept: %v", err)
		}
		prev = e
		clk.Add(time.Minute)
	}
	if pub.count() != 3 {
		t.Fatalf("published %d", pub.count())
	}
	last := pub.got[2]
	var e wire.Entropy
	if err := wire.Unmarshal(last.payload, &e); err != nil {
		t.Fatal(err)
	}
	if last.topic != wire.EntropyTopic || !last.retained || !bytes.Equal(e.Data, prev.Data) {
		t.Fatalf("published %q retained=%v", last.topic, last.retained)
	}
	// Randomness exhausted → error, nothing kept.
	o2, _ := New(DefaultConfig(), Deps{Key: key, Store: NewMemStore(), Rand: bytes.NewReader(nil)})
	if _, err := o2.Next(); err == nil {
		t.Fatal("no error without randomness")
	}
}

func TestCheckRejects(t *testing.T) {
	key := oracleKey(t)
	other, _ := identity.FromSeed(bytes.Repeat([]byte{8}, 32))
	o, _ := New(DefaultConfig(), Deps{Key: key, Store: NewMemStore()})
	e, err := o.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(e, other.Public()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong oracle accepted: %v", err)
	}
	forged := &wire.Entropy{Data: e.Data, Timestamp: e.Timestamp + 1, Previous: e.Previous, Version: 1, Signer: e.Signer, Signature: e.Signature}
	if err := Check(forged, key.Public()); !errors.Is(err, ErrInvalid) {
		t.Fatal("altered timestamp accepted")
	}
	short := &wire.Entropy{Data: []byte{1}}
	_ = key.Sign(short)
	if err := Check(short, key.Public()); !errors.Is(err, ErrInvalid) {
		t.Fatal("short data accepted")
	}
	if err := Check(nil, key.Public()); err == nil {
		t.Fatal("nil accepted")
	}
}

func TestPublishFailureKeepsValue(t *testing.T) {
	pub := &pubRecorder{err: errors.New("broker down")}
	st := NewMemStore()
	o, _ := New(DefaultConfig(), Deps{Key: oracleKey(t), Store: st, Publish: pub.publish})
	e, err := o.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(e.Data); err != nil {
		t.Fatal("value not kept when publish failed")
	}
}

func TestRestartContinuesChainFromPebble(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := NewSpaceStore(db.Prefix("poc/entropy/"))
	if _, err := st.Latest(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty latest: %v", err)
	}
	key := oracleKey(t)
	o1, _ := New(DefaultConfig(), Deps{Key: key, Store: st})
	e1, err := o1.Next()
	if err != nil {
		t.Fatal(err)
	}
	_ = o1.Close()
	if _, err := o1.Next(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	o2, _ := New(DefaultConfig(), Deps{Key: key, Store: st})
	e2, err := o2.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e2.Previous, e1.Data) {
		t.Fatal("restarted oracle broke the chain")
	}
	got, err := st.Get(e1.Data)
	if err != nil || got.Timestamp != e1.Timestamp || Check(got, key.Public()) != nil {
		t.Fatalf("stored e1: %v", err)
	}
	if _, err := st.Get(bytes.Repeat([]byte{9}, 32)); !errors.Is(err, ErrNotFound) {
		t.Fatal("unknown data found")
	}
	if _, err := st.Get([]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Fatal("short data found")
	}
}

func TestRunAndClose(t *testing.T) {
	pub := &pubRecorder{}
	o, _ := New(Config{Interval: time.Second}, Deps{Key: oracleKey(t), Store: NewMemStore(), Publish: pub.publish})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	for pub.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = o.Close()
	_ = o.Close() // idempotent
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if o.Current() == nil {
		t.Fatal("no current value")
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{Interval: 0}, Deps{Key: oracleKey(t), Store: NewMemStore()}); !errors.Is(err, ErrBadConfig) {
		t.Fatal("zero interval accepted")
	}
	if _, err := New(DefaultConfig(), Deps{}); !errors.Is(err, ErrBadConfig) {
		t.Fatal("missing deps accepted")
	}
}

func TestTimestamps(t *testing.T) {
	st := NewMemStore()
	o, _ := New(DefaultConfig(), Deps{Key: oracleKey(t), Store: st, Clock: func() time.Time { return time.Unix(1234, 0) }})
	e, _ := o.Next()
	ts := Timestamps{Store: st}
	if v, ok := ts.EntropyTimestamp(e.Data); !ok || v != 1234 {
		t.Fatalf("%v %v", v, ok)
	}
	if _, ok := ts.EntropyTimestamp([]byte("nope")); ok {
		t.Fatal("unknown entropy found")
	}
}
