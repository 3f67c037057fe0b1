// Package lorawantest loads the shared LoRaWAN test vectors
// (shared/testdata/lorawan/vectors.json, beside the repository root) for the
// tests of internal/lorawan and of the CLI, and checks that a test consumes
// every expected value of every vector.
package lorawantest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
)

// RelPath is the vectors file's path below the folder that holds shared/.
const RelPath = "shared/testdata/lorawan/vectors.json"

// Vector is one test vector.
type Vector struct {
	Name          string            `json:"name"`
	Source        string            `json:"source"`
	Kind          string            `json:"kind"`
	Keys          map[string]string `json:"keys"`
	Inputs        map[string]any    `json:"inputs"`
	PHYPayloadHex string            `json:"phypayload_hex"`
	Expected      map[string]any    `json:"expected"`
}

// Path finds the vectors file: $HEXNET_SHARED/testdata/lorawan/vectors.json
// when set, else the first folder above this source file holding
// shared/testdata/lorawan/vectors.json (the repository's parent in CI).
func Path() (string, error) {
	if d := os.Getenv("HEXNET_SHARED"); d != "" {
		return filepath.Join(d, "testdata", "lorawan", "vectors.json"), nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("lorawantest: no caller information")
	}
	for dir := filepath.Dir(file); ; {
		p := filepath.Join(dir, filepath.FromSlash(RelPath))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("lorawantest: %s not found above %s", RelPath, filepath.Dir(file))
		}
		dir = parent
	}
}

// Load reads every vector, failing the test (never skipping it) when the
// file is missing or empty.
func Load(t testing.TB) []Vector {
	t.Helper()
	p, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("lorawantest: %v", err)
	}
	var vs []Vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("lorawantest: %s: %v", p, err)
	}
	if len(vs) == 0 {
		t.Fatalf("lorawantest: %s holds no vectors", p)
	}
	return vs
}

// Expect hands out a vector's expected values and remembers which were used.
type Expect struct {
	t    testing.TB
	v    Vector
	used map[string]bool
}

// NewExpect starts tracking v's expected values.
func NewExpect(t testing.TB, v Vector) *Expect {
	return &Expect{t: t, v: v, used: map[string]bool{}}
}

func (e *Expect) get(k string) any {
	e.t.Helper()
	x, ok := e.v.Expected[k]
	if !ok {
		e.t.Fatalf("%s: expected value %q missing", e.v.Name, k)
	}
	e.used[k] = true
	return x
}

// Has reports whether the vector expects k.
func (e *Expect) Has(k string) bool { _, ok := e.v.Expected[k]; return ok }

// Str returns expected value k as a string.
func (e *Expect) Str(k string) string {
	e.t.Helper()
	s, ok := e.get(k).(string)
	if !ok {
		e.t.Fatalf("%s: expected %q is not a string", e.v.Name, k)
	}
	return s
}

// Int returns expected value k as an integer.
func (e *Expect) Int(k string) int64 {
	e.t.Helper()
	f, ok := e.get(k).(float64)
	if !ok {
		e.t.Fatalf("%s: expected %q is not a number", e.v.Name, k)
	}
	return int64(f)
}

// Float returns expected value k as a number.
func (e *Expect) Float(k string) float64 {
	e.t.Helper()
	f, ok := e.get(k).(float64)
	if !ok {
		e.t.Fatalf("%s: expected %q is not a number", e.v.Name, k)
	}
	return f
}

// Bool returns expected value k as a boolean.
func (e *Expect) Bool(k string) bool {
	e.t.Helper()
	b, ok := e.get(k).(bool)
	if !ok {
		e.t.Fatalf("%s: expected %q is not a boolean", e.v.Name, k)
	}
	return b
}

// Done fails the test if any expected value was never asked for.
func (e *Expect) Done() {
	e.t.Helper()
	var left []string
	for k := range e.v.Expected {
		if !e.used[k] {
			left = append(left, k)
		}
	}
	sort.Strings(left)
	if len(left) > 0 {
		e.t.Errorf("%s: expected values never asserted: %v", e.v.Name, left)
	}
}

// Hex decodes a hex string or fails the test.
func Hex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
