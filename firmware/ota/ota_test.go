package ota

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/firmware/releases"
	"github.com/hexnet/hexnet/internal/identity"
)

func key(t testing.TB, b byte) *identity.Key {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// script returns the body of a fake agent that exits with code.
func script(version string, code int) string {
	return "#!/bin/sh\n# hotspot " + version + "\nexit " + string(rune('0'+code)) + "\n"
}

// publish writes a signed bundle for arch into releasesDir/channel/arch.
func publish(t *testing.T, k *identity.Key, releasesDir, channel, arch, version, agent string) string {
	t.Helper()
	dir := filepath.Join(releasesDir, channel, arch)
	os.RemoveAll(dir)
	files := map[string]string{AgentPath: agent, "etc/hotspot/hotspot.toml": "region = \"EU868\"\n"}
	m := &manifest.Manifest{Format: manifest.Format, Version: version, Arch: arch, Region: "EU868", Channel: channel, CreatedAt: "2025-01-01T00:00:00Z"}
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := manifest.HashFile(full)
		if err != nil {
			t.Fatal(err)
		}
		f.Path = p
		m.Files = append(m.Files, f)
	}
	m.SortFiles()
	data, err := manifest.Sign(m, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// installed makes a data dir whose slot a holds version (as flash leaves it).
func installed(t *testing.T, version string) string {
	t.Helper()
	data := t.TempDir()
	s := NewSlots(data)
	os.MkdirAll(s.Dir("a"), 0o700)
	os.WriteFile(s.Binary("a"), []byte(script(version, 0)), 0o755)
	os.WriteFile(filepath.Join(s.Dir("a"), VersionFile), []byte(version+"\n"), 0o644)
	return data
}

type env struct {
	release  *identity.Key
	dir      string
	srv      *httptest.Server
	handler  *releases.Handler
	dataDir  string
	restarts atomic.Int32
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{release: key(t, 7), dir: t.TempDir(), dataDir: installed(t, "1.0.0")}
	h, err := releases.New(releases.Config{Dir: e.dir, ReleaseKey: e.release.Address().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) updater(t *testing.T, health func(context.Context) error, hook string) *Updater {
	t.Helper()
	u, err := New(Config{
		DataDir: e.dataDir, Channel: "stable", BaseURL: e.srv.URL, ReleaseKey: e.release.Address().String(),
		Version: "1.0.0", Arch: "arm64", HealthDeadline: 2 * time.Second, InstallerHook: hook,
	}, Deps{HealthCheck: health, Restart: func() { e.restarts.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// runSlot is a health check that runs the current slot's agent: the fake
// agent's exit code is its health.
func runSlot(s *Slots) func(context.Context) error {
	return func(ctx context.Context) error {
		st, err := s.State()
		if err != nil {
			return err
		}
		return exec.CommandContext(ctx, s.Binary(st.Current), "health").Run()
	}
}

func TestUpgradeCommitsWhenHealthy(t *testing.T) {
	e := newEnv(t)
	publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 0))
	u := e.updater(t, nil, "")
	u.deps.HealthCheck = runSlot(u.Slots())
	ok, err := u.Check(context.Background(), nil)
	if err != nil || !ok {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	st, _ := u.Slots().State()
	if st != (State{Current: "b", Previous: "a", Pending: true}) {
		t.Fatalf("state after switch %+v", st)
	}
	if v := u.Slots().Version("b"); v != "1.1.0" {
		t.Fatalf("slot b version %q", v)
	}
	if link, _ := os.Readlink(filepath.Join(e.dataDir, "slots", "current")); link != "b" {
		t.Fatalf("current -> %q", link)
	}
	// The agent restarts into b and passes its health check.
	if err := u.ConfirmHealth(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := u.Slots().State(); st.Pending || st.Current != "b" {
		t.Fatalf("not committed: %+v", st)
	}
}

func TestRollbackWhenNewVersionUnhealthy(t *testing.T) {
	e := newEnv(t)
	publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 1)) // the new agent fails
	u := e.updater(t, nil, "")
	u.deps.HealthCheck = runSlot(u.Slots())
	if ok, err := u.Check(context.Background(), nil); err != nil || !ok {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	err := u.ConfirmHealth(context.Background())
	if !errors.Is(err, ErrHealth) {
		t.Fatalf("ConfirmHealth = %v, want ErrHealth", err)
	}
	st, _ := u.Slots().State()
	if st.Current != "a" || st.Pending {
		t.Fatalf("not rolled back: %+v", st)
	}
	if link, _ := os.Readlink(filepath.Join(e.dataDir, "slots", "current")); link != "a" {
		t.Fatalf("current -> %q", link)
	}
	// The old agent is healthy again.
	if err := runSlot(u.Slots())(context.Background()); err != nil {
		t.Fatalf("rolled-back agent: %v", err)
	}
}

func TestRunRollsBackAndRestarts(t *testing.T) {
	e := newEnv(t)
	publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 1))
	u := e.updater(t, nil, "")
	if ok, err := u.Check(context.Background(), nil); err != nil || !ok {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	// A restarted agent: a new updater whose health check never passes.
	u2 := e.updater(t, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, "")
	u2.cfg.HealthDeadline = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- u2.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for e.restarts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := u2.Slots().State(); st.Current != "a" || e.restarts.Load() != 1 {
		t.Fatalf("state %+v restarts %d", st, e.restarts.Load())
	}
	u2.Close()
	u2.Close()
}

func TestBootRollsBackAfterMaxBoots(t *testing.T) {
	data := installed(t, "1.0.0")
	s := NewSlots(data)
	_, dir, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, BinaryName), []byte(script("1.1.0", 1)), 0o755)
	os.WriteFile(filepath.Join(dir, VersionFile), []byte("1.1.0\n"), 0o644)
	if err := s.Switch("b"); err != nil {
		t.Fatal(err)
	}
	// The new version crashes before its health check, three times.
	for i := 1; i <= 3; i++ {
		r, err := s.Boot(3)
		if err != nil || r.Slot != "b" || r.RolledBack {
			t.Fatalf("boot %d: %+v %v", i, r, err)
		}
	}
	r, err := s.Boot(3)
	if err != nil || r.Slot != "a" || !r.RolledBack || r.Version != "1.0.0" || r.Binary != s.Binary("a") {
		t.Fatalf("fourth boot: %+v %v", r, err)
	}
	if r, _ := s.Boot(3); r.Slot != "a" || r.RolledBack {
		t.Fatalf("after rollback: %+v", r)
	}
}

func TestRefusals(t *testing.T) {
	t.Run("wrong key", func(t *testing.T) {
		e := newEnv(t)
		publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 0))
		u := e.updater(t, nil, "")
		u.release = key(t, 9).Public() // the agent trusts another key
		if _, err := u.Check(context.Background(), nil); !errors.Is(err, manifest.ErrWrongSigner) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("tampered binary", func(t *testing.T) {
		e := newEnv(t)
		dir := publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 0))
		os.WriteFile(filepath.Join(dir, filepath.FromSlash(AgentPath)), []byte(script("6.6.6", 0)), 0o755)
		u := e.updater(t, nil, "")
		if _, err := u.Check(context.Background(), nil); !errors.Is(err, manifest.ErrChecksum) {
			t.Fatalf("got %v", err)
		}
		if st, _ := u.Slots().State(); st.Current != "a" {
			t.Fatalf("switched anyway: %+v", st)
		}
	})
	t.Run("downgrade", func(t *testing.T) {
		e := newEnv(t)
		publish(t, e.release, e.dir, "stable", "arm64", "0.9.0", script("0.9.0", 0))
		u := e.updater(t, nil, "")
		// An index that claims 2.0.0 but points at a signed 0.9.0 manifest.
		_, data, err := e.handler.Index("stable")
		if err != nil {
			t.Fatal(err)
		}
		lying := bytes.Replace(data, []byte(`"version":"0.9.0"`), []byte(`"version":"2.0.0"`), 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/releases/stable" {
				w.Write(lying)
				return
			}
			e.handler.ServeHTTP(w, r)
		}))
		defer srv.Close()
		u.cfg.BaseURL = srv.URL
		if _, err := u.Check(context.Background(), nil); !errors.Is(err, manifest.ErrDowngrade) {
			t.Fatalf("got %v", err)
		}
		// An honest index with an older version is simply nothing to do.
		u.cfg.BaseURL = e.srv.URL
		if ok, err := u.Check(context.Background(), nil); ok || err != nil {
			t.Fatalf("older release: %v %v", ok, err)
		}
	})
	t.Run("forged release announcement", func(t *testing.T) {
		e := newEnv(t)
		publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 0))
		u := e.updater(t, nil, "")
		r, err := e.handler.Release(e.release, "stable", time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := u.OnRelease(r); err != nil {
			t.Fatal(err)
		}
		r.Version = "9.0.0"
		if err := u.OnRelease(r); !errors.Is(err, ErrBadRelease) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestReleaseTriggersInstall(t *testing.T) {
	e := newEnv(t)
	publish(t, e.release, e.dir, "stable", "arm64", "1.2.0", script("1.2.0", 0))
	publish(t, e.release, e.dir, "stable", "armv7", "1.2.0", script("1.2.0", 0))
	u := e.updater(t, func(context.Context) error { return nil }, "")
	u.cfg.CheckInterval = time.Hour // only the announcement can trigger
	r, err := e.handler.Release(e.release, "stable", time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- u.Run(ctx) }()
	if err := u.OnRelease(r); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.restarts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if st, _ := u.Slots().State(); st.Current != "b" || u.Slots().Version("b") != "1.2.0" || e.restarts.Load() != 1 {
		t.Fatalf("state %+v restarts %d", st, e.restarts.Load())
	}
}

func TestInstallerHookReplacesSwap(t *testing.T) {
	e := newEnv(t)
	publish(t, e.release, e.dir, "stable", "arm64", "1.1.0", script("1.1.0", 0))
	out := filepath.Join(t.TempDir(), "hook.out")
	hook := filepath.Join(t.TempDir(), "hook")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$2 $(cat \"$HEXNET_OTA_AGENT\" | sed -n 2p)\" > "+out+"\n"), 0o755)
	u := e.updater(t, nil, hook)
	if ok, err := u.Check(context.Background(), nil); err != nil || !ok {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "1.1.0 # hotspot 1.1.0\n" {
		t.Fatalf("hook saw %q", got)
	}
	if st, _ := u.Slots().State(); st.Current != "a" || st.Pending {
		t.Fatalf("slots touched despite hook: %+v", st)
	}
	os.WriteFile(hook, []byte("#!/bin/sh\necho no space >&2\nexit 3\n"), 0o755)
	if _, err := u.Check(context.Background(), nil); !errors.Is(err, ErrHook) {
		t.Fatalf("failing hook: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{DataDir: "x", ReleaseKey: key(t, 1).Address().String()}
	for name, mut := range map[string]func(*Config){
		"no data dir": func(c *Config) { c.DataDir = "" },
		"bad channel": func(c *Config) { c.Channel = "nightly" },
		"bad key":     func(c *Config) { c.ReleaseKey = "nope" },
		"bad url":     func(c *Config) { c.BaseURL = "ftp://x" },
	} {
		c := good
		mut(&c)
		if _, err := New(c, Deps{}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
