package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func rec(i int) []byte { return []byte(fmt.Sprintf("record-%04d", i)) }

func drain(t *testing.T, q *Queue) []string {
	t.Helper()
	var out []string
	for {
		r, err := q.Peek()
		if errors.Is(err, ErrEmpty) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(r))
		if err := q.Pop(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFIFOAcrossSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := q.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Consume some, then "crash" (close) and reopen.
	for i := 0; i < 7; i++ {
		if err := q.Pop(); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 5 {
		t.Fatalf("expected segment rolling, got %d segments", len(segs))
	}
	q, err = Open(dir, Options{MaxBytes: 1 << 20, SegmentSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Len() != 43 {
		t.Fatalf("len after reopen = %d, want 43", q.Len())
	}
	got := drain(t, q)
	for i, s := range got {
		if s != string(rec(i+7)) {
			t.Fatalf("record %d = %q, want %q", i, s, rec(i+7))
		}
	}
	if q.Bytes() != 0 {
		t.Fatalf("bytes after drain = %d", q.Bytes())
	}
	segs, _ = filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("consumed segments not removed: %d left", len(segs))
	}
}

func TestBoundDropsOldestAndCounts(t *testing.T) {
	q, err := Open(t.TempDir(), Options{MaxBytes: 10 * (headerSize + 11), SegmentSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := 0; i < 25; i++ {
		if err := q.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Dropped() != 15 || q.Len() != 10 {
		t.Fatalf("dropped %d len %d, want 15 and 10", q.Dropped(), q.Len())
	}
	got := drain(t, q)
	if got[0] != string(rec(15)) || got[9] != string(rec(24)) {
		t.Fatalf("kept %q..%q, want the newest ten", got[0], got[9])
	}
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	q.Append(rec(1), rec(2))
	q.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{20, 0, 0, 0, 1, 2, 3, 4, 'x'}) // a record cut off mid-write
	f.Close()
	q, err = Open(dir, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Append(rec(3)); err != nil {
		t.Fatal(err)
	}
	got := drain(t, q)
	if len(got) != 3 || got[2] != string(rec(3)) {
		t.Fatalf("after torn tail got %q", got)
	}
}

func TestErrors(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{}); err == nil {
		t.Fatal("zero MaxBytes accepted")
	}
	q, _ := Open(t.TempDir(), Options{MaxBytes: 1 << 20})
	if _, err := q.Peek(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("peek empty: %v", err)
	}
	if err := q.Append(make([]byte, MaxRecordSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	q.Close()
	if err := q.Append(rec(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func BenchmarkAppendSync(b *testing.B) {
	q, err := Open(b.TempDir(), Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	r := make([]byte, 200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}
