// Package queue is the agent's store-and-forward queue: an append-only,
// segmented, checksummed FIFO on disk. Appends are durable when they return
// (fsync), so whatever the agent acknowledges to its packet forwarder
// survives a crash or restart; the queue is bounded in bytes and, when full,
// drops the oldest records first and counts them. Delivery is at least once:
// a record is removed only after its consumer calls Pop, and a crash between
// publish and Pop delivers it again (the network is idempotent on message hash).
package queue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Limits of a record and a segment.
const (
	MaxRecordSize      = 64 << 10
	DefaultSegmentSize = 4 << 20
	headerSize         = 8 // u32 length, u32 CRC-32C of the payload
)

// Sentinel errors.
var (
	ErrClosed   = errors.New("queue: closed")
	ErrTooLarge = errors.New("queue: record too large")
	ErrEmpty    = errors.New("queue: empty")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	first uint64 // sequence number of its first record
	path  string
	size  int64
}

// Queue is a durable FIFO of byte records. It is safe for concurrent use.
type Queue struct {
	mu       sync.Mutex
	dir      string
	maxBytes int64
	segSize  int64
	segs     []segment
	tail     *os.File
	headSeq  uint64 // sequence of the oldest live record
	headOff  int64  // its offset in segs[0]
	nextSeq  uint64
	count    int
	bytes    int64 // bytes of live records, headers included
	dropped  uint64
	ready    chan struct{}
	closed   bool
}

// Options tune a queue.
type Options struct {
	MaxBytes    int64 // bound on live bytes; when exceeded the oldest records are dropped
	SegmentSize int64 // roll to a new file past this size; DefaultSegmentSize when 0
}

// Open opens (or creates) the queue in dir, recovering its contents: a torn
// record at the end of the last segment (a crash mid-append) is cut off.
func Open(dir string, opts Options) (*Queue, error) {
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("queue: MaxBytes must be positive")
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q := &Queue{dir: dir, maxBytes: opts.MaxBytes, segSize: opts.SegmentSize, ready: make(chan struct{}, 1)}
	if err := q.recover(); err != nil {
		return nil, err
	}
	return q, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

func (q *Queue) recover() error {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".seg") {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 64)
		if err != nil {
			continue
		}
		q.segs = append(q.segs, segment{first: first, path: filepath.Join(q.dir, name)})
	}
	sort.Slice(q.segs, func(i, j int) bool { return q.segs[i].first < q.segs[j].first })
	headSeq, headOff, hasHead := q.readHead()
	// Drop segments wholly before the head.
	for len(q.segs) > 1 && hasHead && q.segs[1].first <= headSeq {
		_ = os.Remove(q.segs[0].path)
		q.segs = q.segs[1:]
	}
	if len(q.segs) == 0 {
		q.headSeq, q.nextSeq = headSeq, headSeq
		return q.openTail(headSeq)
	}
	if !hasHead || headSeq < q.segs[0].first {
		headSeq, headOff = q.segs[0].first, 0
	}
	q.headSeq, q.headOff = headSeq, headOff
	seq := q.segs[0].first
	for i := range q.segs {
		s := &q.segs[i]
		if s.first != seq {
			return fmt.Errorf("queue: segment %s starts at %d, expected %d", s.path, s.first, seq)
		}
		n, good, err := scan(s.path, func(off int64, rec []byte, sq int) {
			if i == 0 && off < q.headOff {
				return
			}
			q.count++
			q.bytes += int64(len(rec) + headerSize)
		})
		if err != nil {
			return err
		}
		if good < fileSize(s.path) {
			if i != len(q.segs)-1 {
				return fmt.Errorf("queue: segment %s is corrupt at offset %d", s.path, good)
			}
			if err := os.Truncate(s.path, good); err != nil {
				return fmt.Errorf("queue: cut torn record: %w", err)
			}
		}
		s.size = good
		seq += uint64(n)
	}
	if i0 := q.segs[0]; q.headOff > i0.size {
		return fmt.Errorf("queue: head offset %d beyond segment size %d", q.headOff, i0.size)
	}
	q.nextSeq = seq
	last := q.segs[len(q.segs)-1]
	f, err := os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	q.tail = f
	return nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// scan reads records from a segment, calling fn for each good one, and
// returns how many were good and the offset just after the last good one.
func scan(path string, fn func(off int64, rec []byte, i int)) (int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("queue: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var off int64
	n := 0
	hdr := make([]byte, headerSize)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return n, off, nil
		}
		ln := binary.LittleEndian.Uint32(hdr[:4])
		if ln > MaxRecordSize {
			return n, off, nil
		}
		rec := make([]byte, ln)
		if _, err := io.ReadFull(r, rec); err != nil {
			return n, off, nil
		}
		if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return n, off, nil
		}
		fn(off, rec, n)
		n++
		off += int64(headerSize) + int64(ln)
	}
}

func (q *Queue) openTail(first uint64) error {
	path := filepath.Join(q.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if q.tail != nil {
		_ = q.tail.Close()
	}
	q.tail = f
	q.segs = append(q.segs, segment{first: first, path: path})
	return syncDir(q.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	defer d.Close()
	_ = d.Sync() // not supported on every filesystem; best effort
	return nil
}

// headFile holds the sequence and offset of the oldest live record.
func (q *Queue) headPath() string { return filepath.Join(q.dir, "head") }

func (q *Queue) readHead() (uint64, int64, bool) {
	b, err := os.ReadFile(q.headPath())
	if err != nil || len(b) != 20 {
		return 0, 0, false
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[:8]), int64(binary.LittleEndian.Uint64(b[8:16])), true
}

// writeHead records the head; it is not fsynced: losing it redelivers records, never loses them.
func (q *Queue) writeHead() error {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint64(b[:8], q.headSeq)
	binary.LittleEndian.PutUint64(b[8:16], uint64(q.headOff))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	tmp := q.headPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("queue: write head: %w", err)
	}
	if err := os.Rename(tmp, q.headPath()); err != nil {
		return fmt.Errorf("queue: write head: %w", err)
	}
	return nil
}

// Append writes records durably (one fsync for all of them) and returns once
// they are on disk. When the queue exceeds its bound, the oldest records are dropped.
func (q *Queue) Append(recs ...[]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	var buf []byte
	for _, r := range recs {
		if len(r) > MaxRecordSize {
			return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(r))
		}
		var hdr [headerSize]byte
		binary.LittleEndian.PutUint32(hdr[:4], uint32(len(r)))
		binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(r, castagnoli))
		buf = append(append(buf, hdr[:]...), r...)
	}
	last := &q.segs[len(q.segs)-1]
	if last.size > 0 && last.size+int64(len(buf)) > q.segSize {
		if err := q.tail.Sync(); err != nil {
			return fmt.Errorf("queue: sync: %w", err)
		}
		if err := q.openTail(q.nextSeq); err != nil {
			return err
		}
		last = &q.segs[len(q.segs)-1]
	}
	if _, err := q.tail.Write(buf); err != nil {
		return fmt.Errorf("queue: append: %w", err)
	}
	if err := q.tail.Sync(); err != nil {
		return fmt.Errorf("queue: sync: %w", err)
	}
	last.size += int64(len(buf))
	q.nextSeq += uint64(len(recs))
	q.count += len(recs)
	q.bytes += int64(len(buf))
	for q.bytes > q.maxBytes && q.count > 0 {
		if err := q.popLocked(); err != nil {
			return err
		}
		q.dropped++
	}
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// Peek returns the oldest record without removing it, or ErrEmpty.
func (q *Queue) Peek() ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	if q.count == 0 {
		return nil, ErrEmpty
	}
	rec, _, err := q.readAt(q.segs[0].path, q.headOff)
	return rec, err
}

func (q *Queue) readAt(path string, off int64) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("queue: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, headerSize)
	if _, err := f.ReadAt(hdr, off); err != nil {
		return nil, 0, fmt.Errorf("queue: read header at %d: %w", off, err)
	}
	ln := binary.LittleEndian.Uint32(hdr[:4])
	if ln > MaxRecordSize {
		return nil, 0, fmt.Errorf("queue: corrupt record length %d at %d", ln, off)
	}
	rec := make([]byte, ln)
	if _, err := f.ReadAt(rec, off+headerSize); err != nil {
		return nil, 0, fmt.Errorf("queue: read record at %d: %w", off, err)
	}
	if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, 0, fmt.Errorf("queue: checksum mismatch at %d", off)
	}
	return rec, int64(headerSize) + int64(ln), nil
}

// Pop removes the oldest record (after its delivery was confirmed).
func (q *Queue) Pop() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if q.count == 0 {
		return ErrEmpty
	}
	return q.popLocked()
}

func (q *Queue) popLocked() error {
	_, n, err := q.readAt(q.segs[0].path, q.headOff)
	if err != nil {
		return err
	}
	q.headOff += n
	q.headSeq++
	q.count--
	q.bytes -= n
	if q.headOff >= q.segs[0].size && len(q.segs) > 1 {
		_ = os.Remove(q.segs[0].path)
		q.segs = q.segs[1:]
		q.headOff = 0
	}
	return q.writeHead()
}

// Ready is signalled after an Append; a consumer waits on it when the queue is empty.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Len is the number of queued records.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

// Bytes is the size of the queued records on disk.
func (q *Queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Dropped counts records dropped because the queue was full.
func (q *Queue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Close syncs and closes the queue; a second Close returns nil.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	err := q.tail.Sync()
	if cerr := q.tail.Close(); err == nil {
		err = cerr
	}
	return err
}
