package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/hexnet/hexnet/poc"
)

// FuzzHandle feeds arbitrary bytes to Handle (and the verifier behind it):
// every input is accepted or rejected with a known reason, never a panic,
// and a second copy of an accepted input is a duplicate.
func FuzzHandle(f *testing.F) {
	e := newEnv(f, DefaultConfig())
	s := newSmall(f, e)
	f.Add(s.bp)
	for _, w := range s.wps {
		f.Add(w)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := e.p.Handle("hexnet/v1/poc/0", b)
		r := ReasonOf(err)
		if err != nil && !errors.Is(err, ErrRejected) {
			t.Fatalf("not a rejection: %v", err)
		}
		if !r.Known() {
			t.Fatalf("unknown reason %v", r)
		}
		if err == nil {
			if err := e.p.Handle("hexnet/v1/poc/0", b); ReasonOf(err) != poc.ReasonDuplicate {
				t.Fatalf("second copy: %v", err)
			}
		}
		e.clk.Advance(time.Second)
		if err := e.p.Flush(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeRecord checks that a stored result record never panics the decoder
// and that what decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte{recordVersion, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if got := appendRecord(nil, r); string(got) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}
