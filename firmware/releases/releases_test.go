package releases

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

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

func put(t *testing.T, k *identity.Key, dir, channel, arch, version string) {
	t.Helper()
	d := filepath.Join(dir, channel, arch)
	os.MkdirAll(filepath.Join(d, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(d, "usr/bin/hotspot"), []byte("agent "+version), 0o755)
	f, _ := manifest.HashFile(filepath.Join(d, "usr/bin/hotspot"))
	f.Path = "usr/bin/hotspot"
	data, err := manifest.Sign(&manifest.Manifest{Format: manifest.Format, Version: version, Arch: arch, Files: []manifest.File{f}}, k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, manifest.FileName), data, 0o644)
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestServe(t *testing.T) {
	rk, other := key(t, 1), key(t, 2)
	dir := t.TempDir()
	put(t, rk, dir, "stable", "arm64", "1.2.0")
	put(t, rk, dir, "stable", "armv7", "1.1.0")    // older: not listed
	put(t, other, dir, "stable", "amd64", "9.0.0") // wrong key: not listed
	os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o644)
	h, err := New(Config{Dir: dir, ReleaseKey: rk.Address().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	code, body := get(t, srv.URL+"/api/v1/releases/stable")
	if code != 200 {
		t.Fatalf("index: %d %s", code, body)
	}
	ix, err := manifest.DecodeIndex(body)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Version != "1.2.0" || len(ix.Manifests) != 1 {
		t.Fatalf("index %+v", ix)
	}
	code, mdata := get(t, srv.URL+ix.Manifests["arm64"].URL)
	if code != 200 || manifest.SumBytes(mdata) != ix.Manifests["arm64"].SHA256 {
		t.Fatalf("manifest: %d", code)
	}
	if code, b := get(t, srv.URL+"/api/v1/releases/stable/files/arm64/usr/bin/hotspot"); code != 200 || string(b) != "agent 1.2.0" {
		t.Fatalf("file: %d %q", code, b)
	}
	for _, p := range []string{"/api/v1/releases/stable/files/../secret", "/api/v1/releases/stable/files/%2e%2e/secret",
		"/api/v1/releases/beta", "/api/v1/releases/stable/files/arm64"} {
		if code, _ := get(t, srv.URL+p); code == 200 {
			t.Errorf("%s served", p)
		}
	}
	if code, _ := get(t, srv.URL+"/api/v1/releases/Bad!"); code != 400 {
		t.Errorf("bad channel: %d", code)
	}

	r, err := h.Release(rk, "stable", time.UnixMilli(42))
	if err != nil {
		t.Fatal(err)
	}
	if err := identity.Verify(r, rk.Public()); err != nil {
		t.Fatal(err)
	}
	if r.Version != "1.2.0" || r.ManifestUrl != "/api/v1/releases/stable" || r.PublishedAtMs != 42 {
		t.Fatalf("release %+v", r)
	}
	if manifest.SumBytes(body) != hexOf(r.ManifestSha256) {
		t.Fatal("release sha256 does not match the served index")
	}
	if _, err := h.Release(other, "stable", time.Now()); err == nil {
		t.Fatal("signed a release with a key that is not the release key")
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
