package devnet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinScenariosLoad(t *testing.T) {
	names := Builtins()
	if strings.Join(names, ",") != "cheaters,city,small" {
		t.Fatalf("builtins %v", names)
	}
	for _, n := range names {
		s, err := LoadScenario(n)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != n || s.Region != "EU868" || s.Speedup <= 0 {
			t.Fatalf("%s: %+v", n, s)
		}
	}
	c, _ := LoadScenario("cheaters")
	if c.Cheaters.Spoof == 0 || c.Cheaters.Ring == 0 || c.Cheaters.RSSIForge == 0 || c.Cheaters.Replay == 0 {
		t.Fatalf("cheaters scenario lacks a kind: %+v", c.Cheaters)
	}
}

func TestScenarioErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown.toml":  "name = \"x\"\nbogus = 1\n[hotspots]\ncount=1\nradius_m=10\n",
		"nohot.toml":    "name = \"x\"\n",
		"speed.toml":    "speedup = -1\n[hotspots]\ncount=1\nradius_m=10\n",
		"badring.toml":  "[hotspots]\ncount=1\nradius_m=10\n[cheaters]\nring=2\nring_size=1\n",
		"badshare.toml": "[hotspots]\ncount=1\nradius_m=10\n[devices]\ngps_share=2\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadScenario(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := LoadScenario("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "small") {
		t.Fatalf("missing scenario error should list the built-ins: %v", err)
	}
}

// TestRunRefusesUsedDataDir: a data directory that holds an earlier run's
// network is refused before anything starts; a new or empty one is taken.
func TestRunRefusesUsedDataDir(t *testing.T) {
	s, err := LoadScenario("small")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Join(dir, "absent")} {
		if err := checkFresh(d); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "network"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkFresh(dir); err != nil {
		t.Fatalf("empty network dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "network", "MANIFEST-000001"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(t.Context(), Options{Scenario: s, DataDir: dir}); !errors.Is(err, ErrUsedDataDir) {
		t.Fatalf("Run on a used data dir: %v, want ErrUsedDataDir", err)
	}
}
