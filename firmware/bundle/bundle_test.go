package bundle_test

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/firmware/bundle"
	"github.com/hexnet/hexnet/firmware/flash"
	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/internal/identity"
)

const testVersion = "1.4.2"

var (
	buildOnce sync.Once
	built     string // bundle directory with the real arm64 agent
	buildErr  error
	buildDir  string
)

func releaseKey(t testing.TB) *identity.Key {
	k, err := identity.FromSeed(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// armBundle cross-compiles cmd/hotspot for arm64 once per test binary and
// returns the bundle; tests copy it before changing anything.
func armBundle(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "hexnet-bundle-test-")
		if buildErr != nil {
			return
		}
		built = filepath.Join(buildDir, "bundle")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		_, buildErr = bundle.Build(ctx, bundle.Options{
			Arch: "arm64", Region: "EU868", Version: testVersion, Key: releaseKey(t), Out: built,
			Now: func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
		})
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBuildVerifyFlashRoundTrip(t *testing.T) {
	b := copyDir(t, armBundle(t))
	m, err := bundle.Verify(b, releaseKey(t).Public())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if m.Version != testVersion || m.Arch != "arm64" || m.Region != "EU868" || m.CreatedAt != "2025-01-02T03:04:05Z" || len(m.Files) != 5 {
		t.Fatalf("manifest %+v", m)
	}
	f, err := elf.Open(filepath.Join(b, bundle.AgentPath))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("agent is %v, want aarch64", f.Machine)
	}
	f.Close()
	unit, _ := os.ReadFile(filepath.Join(b, bundle.AgentUnitPath))
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/hotspot run --config /etc/hotspot/hotspot.toml") {
		t.Errorf("unit:\n%s", unit)
	}

	root := t.TempDir()
	for _, d := range []string{"etc", "usr/bin", "var/lib", "lib"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "lib/ld-linux-aarch64.so.1"), nil, 0o755)
	res, err := flash.Flash(flash.Options{Bundle: b, Root: root, ReleaseKey: releaseKey(t).Public(), BrokerURL: "tcp://10.0.0.1:1883"})
	if err != nil {
		t.Fatalf("flash: %v", err)
	}
	if res.Version != testVersion || res.Arch != "arm64" || !res.KeyCreated {
		t.Fatalf("flash result %+v", res)
	}
	got, _ := os.ReadFile(filepath.Join(root, "usr/bin/hotspot"))
	want, _ := os.ReadFile(filepath.Join(b, bundle.AgentPath))
	if !bytes.Equal(got, want) {
		t.Fatal("installed agent differs from the bundle's")
	}
}

func TestTamperedBundleRefused(t *testing.T) {
	b := copyDir(t, armBundle(t))
	p := filepath.Join(b, bundle.AgentPath)
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 1
	os.WriteFile(p, data, 0o755)
	if _, err := bundle.Verify(b, releaseKey(t).Public()); !errors.Is(err, manifest.ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
}

// TestAgentRunsUnderQemu runs the bundle's arm64 agent under qemu-user:
// `hotspot version` must work on a gateway with no key and no config yet.
func TestAgentRunsUnderQemu(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI=%s but qemu-aarch64-static is missing: %v", os.Getenv("CI"), err)
		}
		t.Skip("qemu-aarch64-static not installed")
	}
	b := armBundle(t)
	empty := t.TempDir()
	cmd := exec.Command(qemu, filepath.Join(b, bundle.AgentPath), "version")
	cmd.Dir = empty
	cmd.Env = []string{"HOME=" + empty, "PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("hotspot version under qemu: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, testVersion) || !strings.Contains(out, "linux/arm64") {
		t.Fatalf("version output %q", out)
	}
}

func TestBuildRefusesBadOptions(t *testing.T) {
	k := releaseKey(t)
	base := bundle.Options{Arch: "arm64", Region: "EU868", Version: "1.0.0", Key: k, Binary: "/bin/sh"}
	for name, mut := range map[string]func(*bundle.Options){
		"arch":     func(o *bundle.Options) { o.Arch = "mips" },
		"region":   func(o *bundle.Options) { o.Region = "XX1" },
		"version":  func(o *bundle.Options) { o.Version = "1.0" },
		"key":      func(o *bundle.Options) { o.Key = nil },
		"sub-band": func(o *bundle.Options) { o.Region, o.SubBand = "US915", 9 },
	} {
		o := base
		o.Out = t.TempDir()
		mut(&o)
		if _, err := bundle.Build(context.Background(), o); !errors.Is(err, bundle.ErrBadOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFindModuleRoot(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := bundle.FindModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "hotspot")); err != nil {
		t.Fatalf("module root %s lacks cmd/hotspot", root)
	}
	if _, err := bundle.FindModuleRoot("/"); !errors.Is(err, bundle.ErrNoModule) {
		t.Fatalf("/: %v", err)
	}
}
