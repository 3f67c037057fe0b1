package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Addr    string        `toml:"addr" help:"listen address"`
	Timeout time.Duration `toml:"timeout" help:"how long to wait"`
}

type testCfg struct {
	Name   string   `toml:"name" help:"the name"`
	Count  int      `toml:"count" help:"how many"`
	Ratio  float64  `toml:"ratio"`
	On     bool     `toml:"on"`
	Tags   []string `toml:"tags"`
	Broker inner    `toml:"broker" help:"the broker"`
}

func (c *testCfg) Validate() error {
	if c.Count < 0 {
		return errors.New("count must not be negative")
	}
	return nil
}

func defaults() *testCfg {
	return &testCfg{Name: "def", Count: 1, Ratio: 0.5, Broker: inner{Addr: "127.0.0.1:1883", Timeout: time.Second}}
}

func TestLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(file, []byte("name = \"file\"\ncount = 2\n[broker]\naddr = \"file:1\"\ntimeout = \"3s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_COUNT", "3")
	t.Setenv("TEST_BROKER_ADDR", "env:2")
	t.Setenv("TEST_TAGS", "a, b")
	cfg := defaults()
	l := NewLoader(cfg, "TEST_")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	l.BindFlags(fs)
	if err := fs.Parse([]string{"-broker.addr", "flag:3", "-on=true"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Load(file); err != nil {
		t.Fatal(err)
	}
	want := testCfg{Name: "file", Count: 3, Ratio: 0.5, On: true, Tags: []string{"a", "b"}, Broker: inner{Addr: "flag:3", Timeout: 3 * time.Second}}
	if cfg.Name != want.Name || cfg.Count != want.Count || cfg.Ratio != want.Ratio || cfg.On != want.On ||
		strings.Join(cfg.Tags, ",") != "a,b" || cfg.Broker != want.Broker {
		t.Fatalf("got %+v want %+v", *cfg, want)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("nosuch = 1\n"), 0o600)
	if err := NewLoader(defaults(), "TEST_").Load(bad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	t.Setenv("TEST_COUNT", "-4")
	if err := NewLoader(defaults(), "TEST_").Load(""); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("validate: %v", err)
	}
	t.Setenv("TEST_COUNT", "many")
	if err := NewLoader(defaults(), "TEST_").Load(""); err == nil || !strings.Contains(err.Error(), "TEST_COUNT") {
		t.Fatalf("bad env: %v", err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	NewLoader(defaults(), "TEST_").BindFlags(fs)
	if err := fs.Parse([]string{"-broker.timeout", "soon"}); err == nil {
		t.Fatal("bad duration flag accepted")
	}
}

func TestPrintRoundTrips(t *testing.T) {
	var b strings.Builder
	if err := Print(&b, defaults(), "TEST_"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{"# the name", "# env: TEST_BROKER_ADDR", "[broker]", `timeout = "1s"`} {
		if !strings.Contains(out, s) {
			t.Errorf("print lacks %q:\n%s", s, out)
		}
	}
	file := filepath.Join(t.TempDir(), "p.toml")
	os.WriteFile(file, []byte(out), 0o600)
	got := &testCfg{}
	if err := NewLoader(got, "NOPE_").Load(file); err != nil {
		t.Fatalf("printed config does not load: %v", err)
	}
	if got.Broker != defaults().Broker || got.Name != "def" {
		t.Fatalf("round trip: %+v", got)
	}
}
