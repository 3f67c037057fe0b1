// Package ota is the hotspot agent's over-the-air updater. It learns of new
// firmware by polling the network's release index at an interval and from the
// retained, signed wire.Release on hexnet/v1/release/{channel} (handed to it
// with OnRelease), downloads the signed manifest and files over HTTP, checks
// the release key's signature, every file's size and SHA-256, and that the
// version is newer than the running one, installs the agent into the inactive
// A/B slot and switches to it (or runs a maker-supplied installer hook
// instead), then asks the agent to restart.
//
// After a switch the new slot is pending: Boot (run by /usr/bin/hotspot at
// every start) counts its starts and rolls back after MaxBoots, and Run, once
// the agent is up, gives the HealthCheck (the agent reconnecting to the
// broker) HealthDeadline to pass, committing the slot when it does and
// rolling back and restarting when it does not.
package ota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/firmware/semver"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

// AgentPath is the manifest path of the agent executable.
const AgentPath = "usr/bin/hotspot"

// Sentinel errors.
var (
	ErrConfig         = errors.New("ota: bad config")
	ErrDownload       = errors.New("ota: download failed")
	ErrWrongArch      = errors.New("ota: manifest is for another architecture")
	ErrBadRelease     = errors.New("ota: bad release announcement")
	ErrNoArch         = errors.New("ota: release has no build for this architecture")
	ErrHealth         = errors.New("ota: new version failed its health check")
	ErrHook           = errors.New("ota: installer hook failed")
	ErrClosed         = errors.New("ota: closed")
	ErrUnknownVersion = errors.New("ota: running version is not a semantic version")
)

// Channels are the release channels an agent can be pinned to.
var Channels = []string{"stable", "beta"}

// Config configures the updater.
type Config struct {
	DataDir        string        // slots live in DataDir/slots
	Channel        string        // pinned channel: stable or beta
	BaseURL        string        // network HTTP API, e.g. https://net.example:8080
	ReleaseKey     string        // address of the release key manifests must be signed by
	Version        string        // running agent version
	Arch           string        // bundle arch; "" = this binary's (arm64, armv7, amd64)
	CheckInterval  time.Duration // polling interval; 0 = 6h
	HealthDeadline time.Duration // time the new version has to pass its health check; 0 = 5m
	MaxBoots       int           // starts of a pending slot before Boot rolls back; 0 = 3
	InstallerHook  string        // executable replacing the slot swap; "" = A/B slots
	MaxFileSize    int64         // largest file downloaded; 0 = 128 MiB
}

// Deps are the updater's collaborators.
type Deps struct {
	HTTP *http.Client // nil = a client with a 2 minute timeout
	// HealthCheck returns nil once the agent is healthy (reconnected to the
	// broker); it should return early with an error when ctx ends.
	HealthCheck func(ctx context.Context) error
	// Restart asks the agent to exit so that its supervisor starts the
	// switched slot; nil = nothing (the next start picks it up).
	Restart func()
	Now     func() time.Time
	Log     *slog.Logger
}

// Updater is the agent's updater component.
type Updater struct {
	cfg     Config
	deps    Deps
	release identity.PublicKey
	slots   *Slots
	trigger chan *wire.Release

	closeOnce sync.Once
	done      chan struct{}
	mu        sync.Mutex // serialises checks
}

// DefaultArch returns the bundle arch of this binary.
func DefaultArch() string {
	if runtime.GOARCH == "arm" {
		return "armv7"
	}
	return runtime.GOARCH
}

// New checks cfg and returns an updater; it starts nothing.
func New(cfg Config, deps Deps) (*Updater, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: data dir is empty", ErrConfig)
	}
	if cfg.Channel == "" {
		cfg.Channel = "stable"
	}
	if !contains(Channels, cfg.Channel) {
		return nil, fmt.Errorf("%w: channel %q (want stable or beta)", ErrConfig, cfg.Channel)
	}
	pk, err := identity.ParseAddress(cfg.ReleaseKey)
	if err != nil {
		return nil, fmt.Errorf("%w: release key: %w", ErrConfig, err)
	}
	if cfg.BaseURL != "" {
		if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: base URL %q", ErrConfig, cfg.BaseURL)
		}
	}
	if cfg.Arch == "" {
		cfg.Arch = DefaultArch()
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 6 * time.Hour
	}
	if cfg.HealthDeadline <= 0 {
		cfg.HealthDeadline = 5 * time.Minute
	}
	if cfg.MaxBoots <= 0 {
		cfg.MaxBoots = 3
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 128 << 20
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: 2 * time.Minute}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Restart == nil {
		deps.Restart = func() {}
	}
	return &Updater{
		cfg: cfg, deps: deps, release: pk, slots: NewSlots(cfg.DataDir),
		trigger: make(chan *wire.Release, 1), done: make(chan struct{}),
	}, nil
}

// Slots returns the updater's slots.
func (u *Updater) Slots() *Slots { return u.slots }

// OnRelease hands the updater a Release received on the retained
// release/{channel} topic. It verifies the signature and the channel and, if
// the version is newer, queues a check; it never blocks.
func (u *Updater) OnRelease(r *wire.Release) error {
	if r == nil {
		return fmt.Errorf("%w: nil", ErrBadRelease)
	}
	if err := identity.Verify(r, u.release); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRelease, err)
	}
	if r.GetChannel() != u.cfg.Channel {
		return nil // another channel: not ours
	}
	if err := manifest.CheckUpgrade(u.cfg.Version, r.GetVersion()); err != nil {
		return nil // nothing newer
	}
	select {
	case u.trigger <- r:
	default: // a check is queued already; replace it with the newest announcement
		select {
		case <-u.trigger:
		default:
		}
		select {
		case u.trigger <- r:
		default:
		}
	}
	return nil
}

// Run confirms or rolls back a pending slot, then checks for updates every
// CheckInterval and whenever OnRelease queues one, until ctx ends or Close.
func (u *Updater) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-u.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := u.ConfirmHealth(ctx); err != nil {
		if errors.Is(err, ErrHealth) {
			u.deps.Log.Error("ota: rolled back", "err", err)
			u.deps.Restart()
		} else if ctx.Err() == nil {
			u.deps.Log.Warn("ota: health confirmation", "err", err)
		}
	}
	t := time.NewTicker(u.cfg.CheckInterval)
	defer t.Stop()
	for {
		var r *wire.Release
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case r = <-u.trigger:
		}
		if u.cfg.BaseURL == "" && r == nil {
			continue
		}
		installed, err := u.check(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			u.deps.Log.Warn("ota: update check failed", "channel", u.cfg.Channel, "err", err)
		case installed:
			u.deps.Restart()
		}
	}
}

// Close stops Run; it is idempotent.
func (u *Updater) Close() error {
	u.closeOnce.Do(func() { close(u.done) })
	return nil
}

// ConfirmHealth handles a pending slot: it gives HealthCheck HealthDeadline,
// commits the slot when it passes and rolls back (returning ErrHealth) when
// it does not. It returns nil at once when nothing is pending.
func (u *Updater) ConfirmHealth(ctx context.Context) error {
	st, err := u.slots.State()
	if errors.Is(err, ErrNoSlot) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Pending {
		return nil
	}
	if u.deps.HealthCheck == nil {
		return u.slots.Commit()
	}
	hctx, cancel := context.WithTimeout(ctx, u.cfg.HealthDeadline)
	herr := u.deps.HealthCheck(hctx)
	cancel()
	if herr == nil {
		u.deps.Log.Info("ota: new version healthy", "slot", st.Current, "version", u.slots.Version(st.Current))
		return u.slots.Commit()
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: decide at the next start
	}
	if _, err := u.slots.Rollback(); err != nil {
		return errors.Join(fmt.Errorf("%w: %w", ErrHealth, herr), err)
	}
	return fmt.Errorf("%w: slot %s (version %s): %w", ErrHealth, st.Current, u.slots.Version(st.Current), herr)
}

// Check looks for a newer release now and installs it; it reports whether it
// installed one (the agent should then restart). A Release from OnRelease may
// be passed to use its index URL and checksum.
func (u *Updater) Check(ctx context.Context, r *wire.Release) (bool, error) {
	return u.check(ctx, r)
}

func (u *Updater) check(ctx context.Context, r *wire.Release) (bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, err := semver.Parse(u.cfg.Version); err != nil {
		return false, fmt.Errorf("%w: %q", ErrUnknownVersion, u.cfg.Version)
	}
	indexURL, wantSum, err := u.indexURL(r)
	if err != nil {
		return false, err
	}
	data, err := u.get(ctx, indexURL, manifest.MaxIndexSize)
	if err != nil {
		return false, err
	}
	if wantSum != nil && sha256.Sum256(data) != [32]byte(wantSum) {
		return false, fmt.Errorf("%w: index %s does not match the signed release", manifest.ErrChecksum, indexURL)
	}
	ix, err := manifest.DecodeIndex(data)
	if err != nil {
		return false, err
	}
	if ix.Channel != u.cfg.Channel {
		return false, fmt.Errorf("%w: index is for channel %q", ErrBadRelease, ix.Channel)
	}
	if err := manifest.CheckUpgrade(u.cfg.Version, ix.Version); err != nil {
		if errors.Is(err, manifest.ErrSameVersion) || errors.Is(err, manifest.ErrDowngrade) {
			return false, nil // nothing newer on the channel
		}
		return false, err
	}
	entry, ok := ix.Manifests[u.cfg.Arch]
	if !ok {
		return false, fmt.Errorf("%w: %s %s for %s", ErrNoArch, ix.Channel, ix.Version, u.cfg.Arch)
	}
	return u.install(ctx, indexURL, entry)
}

// Install downloads and installs the manifest at manifestURL (an entry of an
// index), refusing anything not newer than the running version.
func (u *Updater) install(ctx context.Context, base string, entry manifest.IndexEntry) (bool, error) {
	murl, err := resolve(base, entry.URL)
	if err != nil {
		return false, err
	}
	data, err := u.get(ctx, murl, manifest.MaxSize)
	if err != nil {
		return false, err
	}
	if manifest.SumBytes(data) != entry.SHA256 {
		return false, fmt.Errorf("%w: manifest %s", manifest.ErrChecksum, murl)
	}
	m, err := manifest.Open(data, u.release)
	if err != nil {
		return false, err
	}
	if m.Arch != u.cfg.Arch {
		return false, fmt.Errorf("%w: %s, running %s", ErrWrongArch, m.Arch, u.cfg.Arch)
	}
	if err := manifest.CheckUpgrade(u.cfg.Version, m.Version); err != nil {
		return false, err
	}
	agent, ok := m.Lookup(AgentPath)
	if !ok {
		return false, fmt.Errorf("%w: manifest lacks %s", manifest.ErrMissing, AgentPath)
	}

	stage, err := os.MkdirTemp(u.cfg.DataDir, ".ota-stage-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(stage)
	for _, f := range m.Files {
		furl, err := resolve(murl, f.Path)
		if err != nil {
			return false, err
		}
		dst := filepath.Join(stage, filepath.FromSlash(f.Path))
		if err := u.download(ctx, furl, dst, f); err != nil {
			return false, err
		}
	}
	if err := os.WriteFile(filepath.Join(stage, manifest.FileName), data, 0o600); err != nil {
		return false, err
	}
	if u.cfg.InstallerHook != "" {
		return true, u.runHook(ctx, stage, m)
	}
	slot, dir, err := u.slots.Prepare()
	if err != nil {
		return false, err
	}
	if err := copyFile(filepath.Join(stage, filepath.FromSlash(agent.Path)), filepath.Join(dir, BinaryName), 0o755); err != nil {
		return false, err
	}
	// Check the copy once more: the slot is what will run.
	if err := manifest.CheckFile(filepath.Join(dir, BinaryName), agent); err != nil {
		return false, err
	}
	if err := writeAtomic(filepath.Join(dir, VersionFile), []byte(m.Version+"\n"), 0o644); err != nil {
		return false, err
	}
	if err := writeAtomic(filepath.Join(dir, manifest.FileName), data, 0o644); err != nil {
		return false, err
	}
	if err := u.slots.Switch(slot); err != nil {
		return false, err
	}
	u.deps.Log.Info("ota: installed", "version", m.Version, "slot", slot, "channel", u.cfg.Channel)
	return true, nil
}

// runHook runs the maker's installer with the verified files.
func (u *Updater) runHook(ctx context.Context, stage string, m *manifest.Manifest) error {
	cmd := exec.CommandContext(ctx, u.cfg.InstallerHook, stage, m.Version)
	cmd.Env = append(os.Environ(),
		"HEXNET_OTA_DIR="+stage,
		"HEXNET_OTA_VERSION="+m.Version,
		"HEXNET_OTA_ARCH="+m.Arch,
		"HEXNET_OTA_MANIFEST="+filepath.Join(stage, manifest.FileName),
		"HEXNET_OTA_AGENT="+filepath.Join(stage, filepath.FromSlash(AgentPath)),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s: %w: %s", ErrHook, u.cfg.InstallerHook, err, strings.TrimSpace(string(out)))
	}
	u.deps.Log.Info("ota: installed by hook", "version", m.Version, "hook", u.cfg.InstallerHook)
	return nil
}

func (u *Updater) indexURL(r *wire.Release) (string, []byte, error) {
	def := ""
	if u.cfg.BaseURL != "" {
		def = strings.TrimRight(u.cfg.BaseURL, "/") + "/api/v1/releases/" + u.cfg.Channel
	}
	if r == nil || r.GetManifestUrl() == "" {
		if def == "" {
			return "", nil, fmt.Errorf("%w: no base URL", ErrConfig)
		}
		return def, nil, nil
	}
	var sum []byte
	if s := r.GetManifestSha256(); len(s) > 0 {
		if len(s) != sha256.Size {
			return "", nil, fmt.Errorf("%w: manifest_sha256 of %d bytes", ErrBadRelease, len(s))
		}
		sum = s
	}
	base := def
	if base == "" {
		base = r.GetManifestUrl()
	}
	full, err := resolve(base, r.GetManifestUrl())
	return full, sum, err
}

// resolve resolves ref against base; only http(s) results are accepted.
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrDownload, base, err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrDownload, ref, err)
	}
	u := b.ResolveReference(r)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: %q is not http(s)", ErrDownload, u)
	}
	return u.String(), nil
}

func (u *Updater) get(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDownload, err)
	}
	resp, err := u.deps.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDownload, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", ErrDownload, rawURL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrDownload, rawURL, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: GET %s: larger than %d bytes", ErrDownload, rawURL, limit)
	}
	return data, nil
}

// download fetches one file, stopping at its manifest size, and checks it.
func (u *Updater) download(ctx context.Context, rawURL, dst string, f manifest.File) error {
	if f.Size > u.cfg.MaxFileSize {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrDownload, f.Path, f.Size, u.cfg.MaxFileSize)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDownload, err)
	}
	resp, err := u.deps.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDownload, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s", ErrDownload, rawURL, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrDownload, rawURL, err)
	}
	if n != f.Size {
		return fmt.Errorf("%w: %s: got %d bytes, manifest says %d", manifest.ErrSize, f.Path, n, f.Size)
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%w: %s", manifest.ErrChecksum, f.Path)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
