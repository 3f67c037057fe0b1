package store

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
)

// BenchmarkCommitSync measures synced single-write batches committed from
// many goroutines at once; Pebble coalesces them into shared fsyncs.
// Run with -cpu 1,2 and compare against -cpu 1 (no parallelism) and
// BenchmarkCommitSyncSerial to see the group-commit gain.
func BenchmarkCommitSync(b *testing.B) {
	db := open(b, b.TempDir())
	s := db.Prefix("bench/")
	var seq atomic.Uint64
	b.SetParallelism(16) // 16 committers per GOMAXPROCS
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := make([]byte, 8)
		val := make([]byte, 100)
		for pb.Next() {
			binary.BigEndian.PutUint64(key, seq.Add(1))
			batch, err := s.NewBatch()
			if err != nil {
				b.Error(err)
				return
			}
			_ = batch.Set(key, val)
			if err := batch.CommitSync(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkCommitSyncSerial is the same work from one goroutine: one fsync per commit.
func BenchmarkCommitSyncSerial(b *testing.B) {
	db := open(b, b.TempDir())
	s := db.Prefix("bench/")
	key := make([]byte, 8)
	val := make([]byte, 100)
	b.ResetTimer()
	for i := range b.N {
		binary.BigEndian.PutUint64(key, uint64(i))
		batch, _ := s.NewBatch()
		_ = batch.Set(key, val)
		if err := batch.CommitSync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
