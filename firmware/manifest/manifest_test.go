package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hexnet/hexnet/internal/identity"
)

func testKey(t testing.TB, b byte) *identity.Key {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeBundle writes files into a new dir and returns it with its signed manifest.
func writeBundle(t *testing.T, key *identity.Key, files map[string]string) (string, *Manifest) {
	t.Helper()
	dir := t.TempDir()
	m := &Manifest{Format: Format, Version: "1.2.3", Arch: "arm64", Region: "EU868", CreatedAt: "2025-01-01T00:00:00Z"}
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := HashFile(full)
		if err != nil {
			t.Fatal(err)
		}
		f.Path = p
		m.Files = append(m.Files, f)
	}
	m.SortFiles()
	data, err := Sign(m, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestRoundTripAndRefusals(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	files := map[string]string{"usr/bin/hotspot": "binary", "etc/hotspot/hotspot.toml": "region = \"EU868\"\n"}

	dir, want := writeBundle(t, key, files)
	got, err := OpenDir(dir, key.Public())
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	if got.Version != want.Version || len(got.Files) != 2 || got.Files[0].Path != "etc/hotspot/hotspot.toml" {
		t.Fatalf("round trip: %+v", got)
	}

	cases := []struct {
		name   string
		mutate func(dir string)
		key    *identity.Key
		want   error
	}{
		{"wrong key", func(string) {}, other, ErrWrongSigner},
		{"tampered file", func(d string) {
			os.WriteFile(filepath.Join(d, "usr/bin/hotspot"), []byte("bimary"), 0o644)
		}, key, ErrChecksum},
		{"truncated file", func(d string) {
			os.WriteFile(filepath.Join(d, "usr/bin/hotspot"), []byte("bin"), 0o644)
		}, key, ErrSize},
		{"missing file", func(d string) { os.Remove(filepath.Join(d, "usr/bin/hotspot")) }, key, ErrMissing},
		{"extra file", func(d string) { os.WriteFile(filepath.Join(d, "usr/bin/evil"), []byte("x"), 0o755) }, key, ErrUnlisted},
		{"tampered manifest", func(d string) {
			p := filepath.Join(d, FileName)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"1.2.3"`), []byte(`"9.9.9"`), 1), 0o644)
		}, key, ErrBadSignature},
		{"unsigned field added", func(d string) {
			p := filepath.Join(d, FileName)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"format"`), []byte(`"evil":1,"format"`), 1), 0o644)
		}, key, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := writeBundle(t, key, files)
			c.mutate(dir)
			_, err := OpenDir(dir, c.key.Public())
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestReformattedStillVerifies(t *testing.T) {
	key := testKey(t, 1)
	dir, _ := writeBundle(t, key, map[string]string{"a": "x"})
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(compact.Bytes(), key.Public()); err != nil {
		t.Fatalf("compacted manifest: %v", err)
	}
}

func TestValidateRefusesBadPaths(t *testing.T) {
	for _, p := range []string{"../etc/passwd", "/etc/passwd", "a/../b", "manifest.json", "a\\b", ".", ""} {
		m := Manifest{Format: Format, Version: "1.0.0", Arch: "arm64",
			Files: []File{{Path: p, SHA256: strings.Repeat("00", 32)}}}
		if err := m.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("path %q: %v", p, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	key := testKey(f, 3)
	m := &Manifest{Format: Format, Version: "1.0.0", Arch: "armv7", CreatedAt: "x",
		Files: []File{{Path: "usr/bin/hotspot", SHA256: strings.Repeat("ab", 32), Size: 3, Mode: 0o755}}}
	good, err := Sign(m, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"manifest":{},"signer":"","signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, pk, err := Decode(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid manifest: %v", err)
		}
		if _, err := Open(data, pk); err != nil {
			t.Fatalf("Open disagrees with Decode: %v", err)
		}
	})
}

func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(`{"channel":"stable","version":"1.2.0","manifests":{"arm64":{"url":"/api/v1/releases/stable/files/arm64/manifest.json","sha256":"` + strings.Repeat("ab", 32) + `"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := DecodeIndex(data)
		if err != nil {
			return
		}
		if _, err := json.Marshal(ix); err != nil {
			t.Fatal(err)
		}
		for arch, e := range ix.Manifests {
			if e.URL == "" || len(e.SHA256) != 64 || arch == "" {
				t.Fatalf("accepted entry %q %+v", arch, e)
			}
		}
	})
}
