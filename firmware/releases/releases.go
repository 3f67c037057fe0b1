// Package releases is the network side of firmware updates: an http.Handler
// that serves each channel's release index, signed manifests and files from a
// directory, and the signed wire.Release published retained on
// hexnet/v1/release/{channel}.
//
// Directory layout: DIR/{channel}/{arch}/ holds one bundle as written by
// `hexnet firmware build --out` (manifest.json at its top). Routes:
//
//	GET {prefix}/{channel}               release index (manifest.Index JSON)
//	GET {prefix}/{channel}/files/{path}  DIR/{channel}/{path}, e.g. arm64/manifest.json
//
// Only bundles whose manifest is signed by the configured release key and
// whose version is the channel's newest are listed.
package releases

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/firmware/semver"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/wire"
)

// DefaultPrefix is where `hexnet serve` mounts the handler.
const DefaultPrefix = "/api/v1/releases"

// Sentinel errors.
var (
	ErrBadChannel = errors.New("releases: bad channel")
	ErrNoRelease  = errors.New("releases: no release on the channel")
	ErrConfig     = errors.New("releases: bad config")
)

// Config configures the handler.
type Config struct {
	Dir        string // releases directory
	ReleaseKey string // address of the release key bundles must be signed by
	Prefix     string // URL prefix; "" = DefaultPrefix
}

// Handler serves releases. It reads the directory on every request, so
// publishing is copying a bundle into place.
type Handler struct {
	cfg Config
	key identity.PublicKey
	mux *http.ServeMux
	log *slog.Logger
}

// New returns a handler; log may be nil.
func New(cfg Config, log *slog.Logger) (*Handler, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no directory", ErrConfig)
	}
	pk, err := identity.ParseAddress(cfg.ReleaseKey)
	if err != nil {
		return nil, fmt.Errorf("%w: release key: %w", ErrConfig, err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, key: pk, mux: http.NewServeMux(), log: log}
	h.mux.HandleFunc("GET "+cfg.Prefix+"/{channel}", h.serveIndex)
	h.mux.HandleFunc("GET "+cfg.Prefix+"/{channel}/files/{path...}", h.serveFile)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// ValidChannel checks a channel name: 1-32 of [a-z0-9-].
func ValidChannel(ch string) error {
	if ch == "" || len(ch) > 32 {
		return fmt.Errorf("%w %q", ErrBadChannel, ch)
	}
	for _, c := range ch {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w %q", ErrBadChannel, ch)
		}
	}
	return nil
}

// IndexURL returns the path of a channel's index.
func (h *Handler) IndexURL(channel string) string { return h.cfg.Prefix + "/" + channel }

// Index builds the channel's index and returns it with its JSON encoding
// (the bytes served, whose SHA-256 the wire.Release carries).
func (h *Handler) Index(channel string) (*manifest.Index, []byte, error) {
	if err := ValidChannel(channel); err != nil {
		return nil, nil, err
	}
	type found struct {
		arch string
		v    semver.Version
		sum  string
	}
	var all []found
	for _, arch := range manifest.Arches {
		p := filepath.Join(h.cfg.Dir, channel, arch, manifest.FileName)
		data, err := readLimited(p, manifest.MaxSize)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				h.log.Warn("releases: unreadable manifest", "path", p, "err", err)
			}
			continue
		}
		m, err := manifest.Open(data, h.key)
		if err == nil && m.Arch != arch {
			err = fmt.Errorf("manifest is for %s", m.Arch)
		}
		if err != nil {
			h.log.Warn("releases: manifest refused", "path", p, "err", err)
			continue
		}
		all = append(all, found{arch, semver.MustParse(m.Version), manifest.SumBytes(data)})
	}
	if len(all) == 0 {
		return nil, nil, fmt.Errorf("%w %q", ErrNoRelease, channel)
	}
	newest := slices.MaxFunc(all, func(a, b found) int { return semver.Compare(a.v, b.v) }).v
	ix := &manifest.Index{Channel: channel, Version: newest.String(), Manifests: map[string]manifest.IndexEntry{}}
	for _, f := range all {
		if semver.Compare(f.v, newest) == 0 {
			ix.Manifests[f.arch] = manifest.IndexEntry{
				URL:    h.cfg.Prefix + "/" + channel + "/files/" + f.arch + "/" + manifest.FileName,
				SHA256: f.sum,
			}
		}
	}
	data, err := json.Marshal(ix)
	if err != nil {
		return nil, nil, err
	}
	return ix, data, nil
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	_, data, err := h.Index(r.PathValue("channel"))
	switch {
	case errors.Is(err, ErrBadChannel):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case errors.Is(err, ErrNoRelease):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(data)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request) {
	channel := r.PathValue("channel")
	if err := ValidChannel(channel); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	root, err := os.OpenRoot(filepath.Join(h.cfg.Dir, channel))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	// os.Root refuses any path that escapes the channel directory ("..", symlinks out).
	f, err := root.Open(filepath.FromSlash(r.PathValue("path")))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// NewRelease returns the wire.Release announcing version on channel, pointing
// at the index at indexURL whose bytes are index, signed by key.
func NewRelease(key *identity.Key, channel, version, indexURL string, index []byte, now time.Time) (*wire.Release, error) {
	if err := ValidChannel(channel); err != nil {
		return nil, err
	}
	if _, err := semver.Parse(version); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(index)
	r := &wire.Release{
		Channel: channel, Version: version, ManifestUrl: indexURL, ManifestSha256: sum[:],
		PublishedAtMs: uint64(now.UnixMilli()),
	}
	if err := key.Sign(r); err != nil {
		return nil, err
	}
	return r, nil
}

// Release builds the signed wire.Release of a channel's current index, for
// the retained topic wire.ReleaseTopic(channel). key must be the release key.
func (h *Handler) Release(key *identity.Key, channel string, now time.Time) (*wire.Release, error) {
	if key.Public() != h.key {
		return nil, fmt.Errorf("%w: signing key %s is not the release key %s", ErrConfig, key.Address(), h.key.Address())
	}
	ix, data, err := h.Index(channel)
	if err != nil {
		return nil, err
	}
	return NewRelease(key, channel, ix.Version, h.IndexURL(channel), data, now)
}

func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s larger than %d bytes", name, limit)
	}
	return data, nil
}
