package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteFuzzCorpus rewrites the committed seed corpus when
// HEXNET_WRITE_CORPUS=1 (real signed reports of the small scenario).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("HEXNET_WRITE_CORPUS") != "1" {
		t.Skip("set HEXNET_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzHandle")
	}
	e := newEnv(t, DefaultConfig())
	s := newSmall(t, e)
	seeds := map[string][]byte{"beacon": s.bp, "witness0": s.wps[0], "witness1": s.wps[1], "truncated": s.bp[:40], "empty": {}}
	e.handleAll(append([][]byte{s.bp}, s.wps...))
	e.advance(6 * time.Second)
	rec := appendRecord(nil, &e.take()[0])
	if err := os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzDecodeRecord", "result"), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", rec), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		p := filepath.Join("testdata", "fuzz", "FuzzHandle", name)
		if err := os.WriteFile(p, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
