package gwmp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every error names one of
// the package's sentinels, and that whatever it accepts re-encodes to a
// datagram that decodes to the same packet (and encodes to the same bytes),
// except that a near-limit datagram may grow past MaxDatagramSize.
// Seeds live in testdata/fuzz/FuzzDecode: datagrams of every type, the
// examples of PROTOCOL.TXT and SX1302-style packets.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if p != nil {
				t.Fatalf("Decode returned %T with error %v", p, err)
			}
			if Reason(err) == "other" {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if p.Type() != Type(b[3]) || p.ProtocolVersion() != b[0] {
			t.Fatalf("decoded %T v%d from identifier %#x version %d", p, p.ProtocolVersion(), b[3], b[0])
		}
		enc, err := Encode(p)
		if errors.Is(err, ErrOversize) && len(b) > MaxDatagramSize/2 {
			// Canonical JSON (padded base64, every field written) can
			// outgrow a near-limit terse datagram; that is not a bug.
			return
		}
		if err != nil {
			t.Fatalf("re-encoding accepted %T: %v", p, err)
		}
		p2, err := Decode(enc)
		if err != nil {
			t.Fatalf("decoding re-encoded %q: %v", enc, err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed the packet\n got %+v\nwant %+v", p2, p)
		}
		enc2, err := Encode(p2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %q vs %q (%v)", enc, enc2, err)
		}
	})
}

// TestFuzzSeedsDecode keeps the seed corpus honest: the seeds of valid
// datagrams decode, the seeds of broken ones fail for the named reason.
func TestFuzzSeedsDecode(t *testing.T) {
	wantErr := map[string]error{
		"push_data_spec_example": ErrFieldRange, // PROTOCOL.TXT's first rxpk is not base64
		"short":                  ErrTooShort,
		"unknown_type":           ErrUnknownType,
		"bad_version":            ErrVersion,
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecode"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 10 {
		t.Fatalf("only %d seeds", len(entries))
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecode", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a go test fuzz v1 []byte file", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		_, err = Decode([]byte(s))
		if want := wantErr[e.Name()]; !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("%s: Decode error %v, want %v", e.Name(), err, want)
		}
	}
}
