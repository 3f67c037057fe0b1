package flash

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hexnet/hexnet/firmware/bundle"
	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/internal/identity"
)

func key(t *testing.T, b byte) *identity.Key {
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newBundle builds a bundle around a fake agent (no compiling here; the real
// agent is built and flashed in package bundle's tests).
func newBundle(t *testing.T, k *identity.Key, version, arch string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hotspot")
	os.WriteFile(bin, []byte("#!/bin/sh\necho hotspot "+version+"\n"), 0o755)
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := bundle.Build(context.Background(), bundle.Options{
		Arch: arch, Region: "US915", SubBand: 2, Version: version, Key: k, Out: out, Binary: bin,
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "usr/bin", "var/lib"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	return root
}

func TestFlash(t *testing.T) {
	rk := key(t, 1)
	b := newBundle(t, rk, "1.0.0", "arm64")
	root := newRoot(t)
	res, err := Flash(Options{Bundle: b, Root: root, ReleaseKey: rk.Public(), BrokerURL: "ssl://net.example:8883"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.KeyCreated || res.Version != "1.0.0" || res.Region != "US915" || !strings.Contains(res.Onboard, string(res.Address)) {
		t.Fatalf("result %+v", res)
	}
	k, err := identity.LoadKey(filepath.Join(root, KeyPath))
	if err != nil || k.Address() != res.Address || res.Name != identity.Name(k.Public()) {
		t.Fatalf("key: %v", err)
	}
	for _, p := range []string{"usr/bin/hotspot", SlotDir + "/a/hotspot"} {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Fatalf("%s not executable: %v", p, err)
		}
	}
	settings, _ := os.ReadFile(filepath.Join(root, bundle.SettingsPath))
	for _, want := range []string{`url = "ssl://net.example:8883"`, `region = "US915"`, `key_file = "/var/lib/hotspot/hotspot.key"`, `release = "` + string(rk.Address()) + `"`} {
		if !bytes.Contains(settings, []byte(want)) {
			t.Errorf("settings lack %s:\n%s", want, settings)
		}
	}
	for _, p := range []string{bundle.ForwarderConfPath, bundle.AgentUnitPath, bundle.ForwarderUnitPath} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Error(err)
		}
	}
	if InstalledVersion(root) != "1.0.0" {
		t.Errorf("installed version %q", InstalledVersion(root))
	}

	// Flashing again (a newer bundle) keeps the key.
	before, _ := os.ReadFile(filepath.Join(root, KeyPath))
	res2, err := Flash(Options{Bundle: newBundle(t, rk, "1.1.0", "arm64"), Root: root, ReleaseKey: rk.Public(), Region: "EU868"})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(root, KeyPath))
	if res2.KeyCreated || res2.Address != res.Address || !bytes.Equal(before, after) {
		t.Fatalf("key replaced: %+v", res2)
	}
	conf, _ := os.ReadFile(filepath.Join(root, bundle.ForwarderConfPath))
	if !bytes.Contains(conf, []byte("867500000")) {
		t.Errorf("region override did not rewrite the forwarder config")
	}
}

func TestFlashRefusals(t *testing.T) {
	rk := key(t, 1)
	cases := []struct {
		name string
		prep func(t *testing.T, bundleDir, root string) Options
		want error
	}{
		{"not a rootfs", func(t *testing.T, b, root string) Options {
			os.RemoveAll(filepath.Join(root, "var/lib"))
			return Options{}
		}, ErrNotRootfs},
		{"tampered binary", func(t *testing.T, b, root string) Options {
			os.WriteFile(filepath.Join(b, bundle.AgentPath), []byte("#!/bin/sh\necho hotspot 6.6.6\n"), 0o755) // same size, other bytes
			return Options{}
		}, manifest.ErrChecksum},
		{"tampered manifest", func(t *testing.T, b, root string) Options {
			p := filepath.Join(b, manifest.FileName)
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"US915"`), []byte(`"EU868"`), 1), 0o644)
			return Options{}
		}, manifest.ErrBadSignature},
		{"wrong key", func(t *testing.T, b, root string) Options {
			return Options{ReleaseKey: key(t, 2).Public()}
		}, manifest.ErrWrongSigner},
		{"unlisted file", func(t *testing.T, b, root string) Options {
			os.WriteFile(filepath.Join(b, "etc/cron.d-evil"), []byte("x"), 0o644)
			return Options{}
		}, manifest.ErrUnlisted},
		{"downgrade", func(t *testing.T, b, root string) Options {
			if _, err := Flash(Options{Bundle: newBundle(t, rk, "2.0.0", "arm64"), Root: root, ReleaseKey: rk.Public()}); err != nil {
				t.Fatal(err)
			}
			return Options{}
		}, manifest.ErrDowngrade},
		{"arch mismatch (loader)", func(t *testing.T, b, root string) Options {
			os.MkdirAll(filepath.Join(root, "lib"), 0o755)
			os.WriteFile(filepath.Join(root, "lib/ld-linux-armhf.so.3"), nil, 0o755)
			return Options{}
		}, ErrArchMismatch},
		{"arch mismatch (elf)", func(t *testing.T, b, root string) Options {
			self, err := os.Executable() // this test binary: amd64 or arm64, never armv7
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(self)
			os.WriteFile(filepath.Join(root, "usr/bin/busybox"), data, 0o755)
			return Options{Bundle: newBundle(t, rk, "1.0.0", "armv7")}
		}, ErrArchMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, root := newBundle(t, rk, "1.0.0", "arm64"), newRoot(t)
			o := c.prep(t, b, root)
			if o.Bundle == "" {
				o.Bundle = b
			}
			o.Root = root
			if o.ReleaseKey == (identity.PublicKey{}) {
				o.ReleaseKey = rk.Public()
			}
			before := InstalledVersion(root)
			_, err := Flash(o)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if InstalledVersion(root) != before {
				t.Fatalf("refused flash changed the installed agent")
			}
			if c.name != "downgrade" {
				if _, err := os.Stat(filepath.Join(root, KeyPath)); err == nil {
					t.Fatalf("refused flash created a key")
				}
			}
		})
	}
}
