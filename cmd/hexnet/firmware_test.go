package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
)

func TestFirmwareBuildVerifyFlash(t *testing.T) {
	dir := t.TempDir()
	k, err := identity.FromSeed(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "release.key")
	if err := identity.SaveKey(keyFile, k); err != nil {
		t.Fatal(err)
	}
	addr := string(k.Address())
	out := filepath.Join(dir, "bundle")
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := runFirmware(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	// arm64: the go build cache is shared with firmware/bundle's tests.
	code, so, se := run("build", "--arch", "arm64", "--region", "US915", "--sub-band", "2", "--version", "0.3.0", "--key", keyFile, "--out", out)
	if code != 0 || !strings.Contains(so, "hotspot 0.3.0 for arm64, region US915 sub-band 2") {
		t.Fatalf("build: %d\n%s\n%s", code, so, se)
	}
	if code, so, se := run("verify", "--bundle", out, "--release-key", addr); code != 0 || !strings.Contains(so, "OK") {
		t.Fatalf("verify: %d %s %s", code, so, se)
	}
	other, _ := identity.FromSeed(bytes.Repeat([]byte{6}, 32))
	if code, _, se := run("verify", "--bundle", out, "--release-key", string(other.Address())); code != 1 || !strings.Contains(se, "untrusted key") {
		t.Fatalf("verify with another key: %d %s", code, se)
	}

	root := filepath.Join(dir, "root")
	for _, d := range []string{"etc", "usr/bin", "var/lib"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	if code, _, _ := run("flash", "--bundle", out, "--root", root); code != 2 {
		t.Fatalf("flash without --release-key: %d", code)
	}
	code, so, se = run("flash", "--bundle", out, "--root", root, "--release-key", addr, "--broker", "tcp://192.0.2.1:1883")
	if code != 0 {
		t.Fatalf("flash: %d %s", code, se)
	}
	hk, err := identity.LoadKey(filepath.Join(root, "var/lib/hotspot/hotspot.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{string(hk.Address()), identity.Name(hk.Public()), "hexnet hotspot onboard --hotspot " + string(hk.Address()), "created"} {
		if !strings.Contains(so, want) {
			t.Errorf("flash output lacks %q:\n%s", want, so)
		}
	}
	code, so, _ = run("flash", "--bundle", out, "--root", root, "--release-key", addr)
	if code != 0 || !strings.Contains(so, "kept") || !strings.Contains(so, string(hk.Address())) {
		t.Fatalf("second flash: %d\n%s", code, so)
	}
	if code, _, _ := run("nope"); code != 2 {
		t.Fatalf("unknown subcommand: %d", code)
	}
}
