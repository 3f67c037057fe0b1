// Package store wraps a Pebble database: one DB per process, one key prefix
// (a Space) per role, so that roles never see each other's keys.
//
// Durability: a write or batch committed with sync=true is on stable storage
// when the call returns. Pebble already group-commits: concurrent synced
// commits that reach its commit pipeline together share one WAL fsync, so
// many goroutines calling Batch.CommitSync at once cost far fewer fsyncs than
// commits (see BenchmarkCommitSync).
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Sentinel errors returned by this package.
var (
	// ErrNotFound is returned by Get for a key that is not stored.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by operations on a closed DB.
	ErrClosed = errors.New("store: closed")
)

// Options tunes the Pebble instance. The zero value of a field takes its
// default; the defaults suit both a Raspberry Pi (1–4 GiB RAM, SD card) and a
// 2-core server, and an operator with memory to spare raises CacheSize.
type Options struct {
	// CacheSize is the shared block cache in bytes. Default 64 MiB; on a
	// 24 GiB server 1–2 GiB is a sensible setting.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes. Default 16 MiB.
	// Writes stall only when MemTableStopWrites memtables are queued for flush.
	MemTableSize uint64
	// MemTableStopWrites is how many memtables may be queued before writes
	// stop. Default 4 (so up to 64 MiB of unflushed writes by default).
	MemTableStopWrites int
	// L0CompactionThreshold is the L0 read amplification that triggers an L0
	// compaction. Default 4.
	L0CompactionThreshold int
	// L0StopWritesThreshold is the L0 read amplification at which writes
	// stop until compactions catch up. Default 20: on a slow SD card a burst
	// should slow down, not stop, the network.
	L0StopWritesThreshold int
	// MaxConcurrentCompactions caps background compactions. Default 1, which
	// leaves the second core of a 2-core box to the network.
	MaxConcurrentCompactions int
	// MaxOpenFiles caps open file descriptors. Default 1000.
	MaxOpenFiles int
	// Logger receives Pebble's own log lines. Default: slog.Default().
	Logger *slog.Logger
	// FS is the file system the database lives on. Default: the disk.
	// Tests use Pebble's crashable in-memory FS to check what survives a
	// power loss.
	FS vfs.FS
}

// Defaults of Options.
const (
	DefaultCacheSize                = 64 << 20
	DefaultMemTableSize             = 16 << 20
	DefaultMemTableStopWrites       = 4
	DefaultL0CompactionThreshold    = 4
	DefaultL0StopWritesThreshold    = 20
	DefaultMaxConcurrentCompactions = 1
	DefaultMaxOpenFiles             = 1000
)

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.MemTableStopWrites <= 0 {
		o.MemTableStopWrites = DefaultMemTableStopWrites
	}
	if o.L0CompactionThreshold <= 0 {
		o.L0CompactionThreshold = DefaultL0CompactionThreshold
	}
	if o.L0StopWritesThreshold <= 0 {
		o.L0StopWritesThreshold = DefaultL0StopWritesThreshold
	}
	if o.MaxConcurrentCompactions <= 0 {
		o.MaxConcurrentCompactions = DefaultMaxConcurrentCompactions
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports options that Pebble would refuse.
func (o Options) Validate() error {
	d := o.withDefaults()
	if d.MemTableStopWrites < 2 {
		return fmt.Errorf("store: MemTableStopWrites %d must be at least 2", d.MemTableStopWrites)
	}
	if d.L0StopWritesThreshold < d.L0CompactionThreshold {
		return fmt.Errorf("store: L0StopWritesThreshold %d below L0CompactionThreshold %d",
			d.L0StopWritesThreshold, d.L0CompactionThreshold)
	}
	if d.MemTableSize >= 4<<30 {
		return fmt.Errorf("store: MemTableSize %d must be below 4 GiB", d.MemTableSize)
	}
	return nil
}

// DB is an open Pebble database. Its methods are safe for concurrent use.
type DB struct {
	mu     sync.RWMutex // read-held by every operation, write-held by Close
	closed bool
	pdb    *pebble.DB
	dir    string
}

// Open opens (creating if needed) the database in dir.
func Open(dir string, opts Options) (*DB, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: o.MemTableStopWrites,
		L0CompactionThreshold:       o.L0CompactionThreshold,
		L0StopWritesThreshold:       o.L0StopWritesThreshold,
		MaxOpenFiles:                o.MaxOpenFiles,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      slogLogger{o.Logger.With("component", "pebble")},
		FS:                          o.FS,
	}
	// A Bloom filter in every table (10 bits a key, about 1 % false
	// positives; L1+ inherit L0's policy). Idempotency and dedup checks
	// (billing, PoC reports, ledger debits) look up keys that are usually
	// absent, and without a filter such a Get reads an index and a data block
	// of every table whose key range covers the key.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	n := o.MaxConcurrentCompactions
	po.CompactionConcurrencyRange = func() (int, int) { return 1, n }
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return &DB{pdb: pdb, dir: dir}, nil
}

// Dir returns the directory the database lives in.
func (db *DB) Dir() string { return db.dir }

// Close closes the database; writes made with sync are already durable,
// unsynced ones are written out by Close but may be lost in a crash.
// Every Iter must be closed, and no Iterate running, before Close: the
// caller (the process's Run) orders this by stopping its roles first.
// Later calls on the DB return ErrClosed; a second Close returns nil.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Prefix returns the Space of keys under prefix. The prefix must be non-empty
// and end with '/', so that two roles' spaces ("poc/", "router/") can never
// overlap; it panics otherwise, as a wrong prefix is a programming error.
func (db *DB) Prefix(prefix string) *Space {
	mustPrefix(prefix)
	return &Space{db: db, prefix: []byte(prefix)}
}

// Metrics returns Pebble's metrics, or nil when the DB is closed.
func (db *DB) Metrics() *pebble.Metrics {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil
	}
	return db.pdb.Metrics()
}

// Flush writes the memtable to an sstable (tests and shutdown tooling).
func (db *DB) Flush() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	if err := db.pdb.Flush(); err != nil {
		return fmt.Errorf("store: flush: %w", err)
	}
	return nil
}

// Sync makes every write made so far durable, synced or not (one WAL
// fsync, shared with concurrent synced commits).
func (db *DB) Sync() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	if err := db.pdb.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// SyncEvery calls Sync every interval of real time until ctx ends, so that
// writes made without sync (data-credit debits, data-transfer records,
// which must not wait for an fsync before a copy is delivered) are durable
// within interval even across a power loss. It returns nil when ctx ends
// or the DB is closed, and the first other error.
func (db *DB) SyncEvery(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := db.Sync(); errors.Is(err, ErrClosed) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func mustPrefix(prefix string) {
	if prefix == "" || prefix[len(prefix)-1] != '/' {
		panic(fmt.Sprintf("store: prefix %q must be non-empty and end with '/'", prefix))
	}
}

// writeOpts maps a sync flag onto Pebble's write options.
func writeOpts(sync bool) *pebble.WriteOptions {
	if sync {
		return pebble.Sync
	}
	return pebble.NoSync
}

// slogLogger adapts slog to Pebble's Logger.
type slogLogger struct{ l *slog.Logger }

// Infof logs Pebble's routine messages at debug level.
func (s slogLogger) Infof(format string, args ...any) {
	s.l.Debug(fmt.Sprintf(format, args...))
}

// Errorf logs Pebble's errors.
func (s slogLogger) Errorf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf logs and panics: Pebble calls it only on corruption it cannot survive.
func (s slogLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.l.Error(msg)
	panic("store: pebble fatal: " + msg)
}
