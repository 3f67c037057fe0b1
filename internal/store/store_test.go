package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/prometheus/client_golang/prometheus"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{CacheSize: 8 << 20, MemTableSize: 4 << 20, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestPrefixIsolation(t *testing.T) {
	db := open(t, t.TempDir())
	poc, router := db.Prefix("poc/"), db.Prefix("router/")
	if err := poc.Set([]byte("k"), []byte("poc-value"), false); err != nil {
		t.Fatal(err)
	}
	if err := router.Set([]byte("k"), []byte("router-value"), false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    *Space
		want string
	}{{poc, "poc-value"}, {router, "router-value"}} {
		v, err := tc.s.Get([]byte("k"))
		if err != nil || string(v) != tc.want {
			t.Errorf("%s Get = %q, %v; want %q", tc.s.Name(), v, err, tc.want)
		}
	}
	// A space's iteration sees only its own keys, even with an empty prefix.
	var keys []string
	if err := poc.Iterate(nil, func(k, v []byte) error {
		keys = append(keys, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "k=poc-value" {
		t.Errorf("poc sees %v", keys)
	}
	// Deleting in one space leaves the other alone.
	if err := poc.Delete([]byte("k"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := router.Get([]byte("k")); err != nil {
		t.Errorf("router key gone after poc delete: %v", err)
	}
	// A nested space lives inside its parent and not beside it.
	sub := poc.Prefix("beacons/")
	if err := sub.Set([]byte("b1"), []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	if v, err := poc.Get([]byte("beacons/b1")); err != nil || string(v) != "x" {
		t.Errorf("nested key seen from parent = %q, %v", v, err)
	}
	if _, err := router.Get([]byte("beacons/b1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("nested key leaked into sibling: %v", err)
	}
}

func TestPrefixMustEndWithSlash(t *testing.T) {
	for _, p := range []string{"", "poc", "poc/x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Prefix(%q) did not panic", p)
				}
			}()
			(&DB{}).Prefix(p)
		}()
	}
}

func TestGetNotFoundAndCopy(t *testing.T) {
	db := open(t, t.TempDir())
	s := db.Prefix("a/")
	if _, err := s.Get([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v, want ErrNotFound", err)
	}
	if err := s.Set([]byte("k"), []byte("value"), false); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Get([]byte("k"))
	v[0] = 'X' // must not affect the store
	w, _ := s.Get([]byte("k"))
	if string(w) != "value" {
		t.Errorf("Get returned shared memory: %q", w)
	}
}

func TestReopenPersistence(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s := db.Prefix("ledger/")
	if err := s.Set([]byte("balance"), []byte("42"), true); err != nil {
		t.Fatal(err)
	}
	b, _ := s.NewBatch()
	_ = b.Set([]byte("a"), []byte("1"))
	_ = b.Set([]byte("b"), []byte("2"))
	if err := b.CommitSync(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := open(t, dir)
	s2 := db2.Prefix("ledger/")
	for k, want := range map[string]string{"balance": "42", "a": "1", "b": "2"} {
		v, err := s2.Get([]byte(k))
		if err != nil || string(v) != want {
			t.Errorf("after reopen %s = %q, %v; want %q", k, v, err, want)
		}
	}
}

func TestIterationOrderAndBounds(t *testing.T) {
	db := open(t, t.TempDir())
	s := db.Prefix("m/")
	other := db.Prefix("n/")
	keys := []string{"c", "a", "b/2", "b/1", "b\xff", "d", "b/10"}
	for _, k := range keys {
		if err := s.Set([]byte(k), []byte("v"+k), false); err != nil {
			t.Fatal(err)
		}
	}
	_ = other.Set([]byte("a"), []byte("other"), false)
	// Flush so that both memtable and sstable paths are exercised below.
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = s.Set([]byte("b/0"), []byte("vb/0"), false)

	collect := func(prefix string) []string {
		var out []string
		if err := s.Iterate([]byte(prefix), func(k, v []byte) error {
			if string(v) != "v"+string(k) {
				t.Errorf("value of %q = %q", k, v)
			}
			out = append(out, string(k))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		prefix string
		want   string
	}{
		{"", "a b/0 b/1 b/10 b/2 b\xff c d"},
		{"b/", "b/0 b/1 b/10 b/2"},
		{"b", "b/0 b/1 b/10 b/2 b\xff"},
		{"b/1", "b/1 b/10"},
		{"z", ""},
	}
	for _, tc := range tests {
		if got := strings.Join(collect(tc.prefix), " "); got != tc.want {
			t.Errorf("Iterate(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}

	// Bounded iterator: [b/1, c) forwards, then backwards.
	it, err := s.NewIter([]byte("b/1"), []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	var fwd, back []string
	for ok := it.First(); ok; ok = it.Next() {
		fwd = append(fwd, string(it.Key()))
	}
	for ok := it.Last(); ok; ok = it.Prev() {
		back = append(back, string(it.Key()))
	}
	if got := strings.Join(fwd, " "); got != "b/1 b/10 b/2 b\xff" {
		t.Errorf("forward = %q", got)
	}
	if got := strings.Join(back, " "); got != "b\xff b/2 b/10 b/1" {
		t.Errorf("backward = %q", got)
	}
	if !it.SeekGE([]byte("b/11")) || string(it.Key()) != "b/2" {
		t.Errorf("SeekGE(b/11) at %q", it.Key())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("second iterator Close = %v", err)
	}

	// Open-ended iterator stays inside the space.
	it, _ = s.NewIter(nil, nil)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	_ = it.Close()
	if n != len(keys)+1 {
		t.Errorf("unbounded iterator saw %d keys, want %d", n, len(keys)+1)
	}

	// An error from the callback stops iteration and comes back.
	stop := errors.New("stop")
	calls := 0
	err = s.Iterate(nil, func(k, v []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Iterate with stop = %v after %d calls", err, calls)
	}
}

func TestSuccessor(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte("a/"), []byte("a0")},
		{[]byte{'a', 0xff}, []byte{'b'}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	}
	for _, tc := range tests {
		if got := successor(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("successor(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
}

func TestBatchAtomicity(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s := db.Prefix("r/")
	_ = s.Set([]byte("old"), []byte("1"), true)

	b, _ := s.NewBatch()
	for i := range 100 {
		_ = b.Set(fmt.Appendf(nil, "k%03d", i), []byte("v"))
	}
	_ = b.Delete([]byte("old"))
	if b.Len() != 101 {
		t.Errorf("Len = %d", b.Len())
	}
	// Nothing is visible before commit.
	if _, err := s.Get([]byte("k000")); !errors.Is(err, ErrNotFound) {
		t.Errorf("uncommitted write visible: %v", err)
	}
	if _, err := s.Get([]byte("old")); err != nil {
		t.Errorf("uncommitted delete visible: %v", err)
	}
	// A discarded batch leaves nothing behind.
	discard, _ := s.NewBatch()
	_ = discard.Set([]byte("ghost"), []byte("x"))
	_ = discard.Close()
	if err := discard.Commit(true); err == nil {
		t.Error("Commit after Close succeeded")
	}

	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err == nil {
		t.Error("second Commit succeeded")
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close after Commit = %v", err)
	}
	_ = db.Close()

	db2 := open(t, dir)
	s2 := db2.Prefix("r/")
	n := 0
	_ = s2.Iterate([]byte("k"), func(k, v []byte) error { n++; return nil })
	if n != 100 {
		t.Errorf("after reopen %d batch keys, want 100", n)
	}
	for _, k := range []string{"old", "ghost"} {
		if _, err := s2.Get([]byte(k)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s present after reopen: %v", k, err)
		}
	}
}

func TestCloseIdempotentAndClosedErrors(t *testing.T) {
	db, err := Open(t.TempDir(), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s := db.Prefix("x/")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after close = %v", err)
	}
	if err := s.Set([]byte("k"), nil, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after close = %v", err)
	}
	if _, err := s.NewBatch(); !errors.Is(err, ErrClosed) {
		t.Errorf("NewBatch after close = %v", err)
	}
	if err := s.Iterate(nil, func(k, v []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Iterate after close = %v", err)
	}
	if db.Metrics() != nil {
		t.Error("Metrics after close not nil")
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{Options{MemTableStopWrites: 1}, false},
		{Options{L0CompactionThreshold: 8, L0StopWritesThreshold: 4}, false},
		{Options{MemTableSize: 4 << 30}, false},
	}
	for i, tc := range tests {
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("%d: Validate = %v, want ok=%v", i, err, tc.ok)
		}
	}
	if _, err := Open(t.TempDir(), Options{MemTableStopWrites: 1}); err == nil {
		t.Error("Open accepted invalid options")
	}
}

func TestCollector(t *testing.T) {
	db := open(t, t.TempDir())
	s := db.Prefix("c/")
	for i := range 50 {
		_ = s.Set(fmt.Appendf(nil, "%d", i), bytes.Repeat([]byte("x"), 100), true)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(db.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		if m.Gauge != nil {
			vals[mf.GetName()] = m.Gauge.GetValue()
		} else {
			vals[mf.GetName()] = m.Counter.GetValue()
		}
	}
	if vals["hexnet_store_wal_bytes_written_total"] < 50*100 {
		t.Errorf("wal bytes = %v, want >= 5000", vals["hexnet_store_wal_bytes_written_total"])
	}
	if vals["hexnet_store_disk_usage_bytes"] <= 0 {
		t.Errorf("disk usage = %v", vals["hexnet_store_disk_usage_bytes"])
	}
	_ = db.Close()
	ch := make(chan prometheus.Metric, 16)
	db.Collector().Collect(ch)
	if n := len(ch); n != 0 {
		t.Errorf("closed DB reported %d metrics", n)
	}
}

func TestConcurrentCommitSync(t *testing.T) {
	db := open(t, t.TempDir())
	s := db.Prefix("g/")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				b, err := s.NewBatch()
				if err != nil {
					t.Error(err)
					return
				}
				_ = b.Set(fmt.Appendf(nil, "%d/%d", w, i), []byte("v"))
				if err := b.CommitSync(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	_ = s.Iterate(nil, func(k, v []byte) error { n++; return nil })
	if n != 160 {
		t.Errorf("%d keys after concurrent commits, want 160", n)
	}
}

// TestSyncSurvivesPowerLoss writes without sync and takes a crash image of
// the file system (only what was synced survives): the writes made before
// a Sync are there after reopening, the ones after it are not.
func TestSyncSurvivesPowerLoss(t *testing.T) {
	fs := vfs.NewCrashableMem()
	db, err := Open("db", Options{CacheSize: 8 << 20, Logger: quiet(), FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	sp := db.Prefix("router/")
	if err := sp.Set([]byte("debit-1"), []byte("3"), false); err != nil {
		t.Fatal(err)
	}
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := sp.Set([]byte("debit-2"), []byte("3"), false); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{}) // exactly what was synced
	_ = db.Close()
	if err := db.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}

	db2, err := Open("db", Options{CacheSize: 8 << 20, Logger: quiet(), FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	sp2 := db2.Prefix("router/")
	if v, err := sp2.Get([]byte("debit-1")); err != nil || string(v) != "3" {
		t.Errorf("write before Sync after power loss: %q, %v", v, err)
	}
	if _, err := sp2.Get([]byte("debit-2")); !errors.Is(err, ErrNotFound) {
		t.Errorf("write after the last Sync survived power loss (%v): the crash image is not strict", err)
	}
}

func TestSyncEveryStops(t *testing.T) {
	db := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.SyncEvery(ctx, time.Millisecond) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SyncEvery = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SyncEvery did not return after its context ended")
	}
}

// TestBatchDeleteRange: a range deletion removes the keys of [start, end)
// of its own space only, keeps end itself, and holds after a reopen.
func TestBatchDeleteRange(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{CacheSize: 8 << 20, MemTableSize: 4 << 20, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a, other := db.Prefix("a/"), db.Prefix("b/")
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		if err := a.Set([]byte(k), []byte("v"), false); err != nil {
			t.Fatal(err)
		}
		if err := other.Set([]byte(k), []byte("v"), false); err != nil {
			t.Fatal(err)
		}
	}
	b, err := a.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteRange([]byte("k2"), []byte("k4")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteRange([]byte("k1"), []byte("k2")); err == nil {
		t.Error("DeleteRange on a committed batch succeeded")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	keys := func(s *Space) string {
		var out []string
		if err := s.Iterate(nil, func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, ",")
	}
	if got := keys(db.Prefix("a/")); got != "k1,k4" {
		t.Errorf("a/ after DeleteRange [k2, k4) = %s, want k1,k4", got)
	}
	if got := keys(db.Prefix("b/")); got != "k1,k2,k3,k4" {
		t.Errorf("b/ touched by a/'s DeleteRange: %s", got)
	}
}
