// Package flash provisions a gateway's root filesystem (a mounted SD card or
// any folder) from a firmware bundle: it verifies the bundle against the
// release key the host trusts, installs the agent and its configuration,
// creates the hotspot key (never replacing one that exists) and returns what
// the host needs to onboard the hotspot.
//
// The trusted release key is always given by the host (--release-key ADDR):
// a bundle cannot vouch for itself, since anyone can sign a bundle with a key
// of their own.
package flash

import (
	"bytes"
	"crypto/rand"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/hexnet/hexnet/firmware/bundle"
	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/firmware/pktfwd"
	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/config"
	"github.com/hexnet/hexnet/internal/identity"
)

// Sentinel errors.
var (
	ErrNotRootfs    = errors.New("flash: not a root filesystem")
	ErrArchMismatch = errors.New("flash: architecture mismatch")
	ErrBadOptions   = errors.New("flash: bad options")
)

// Paths inside the gateway root.
const (
	KeyPath     = "var/lib/hotspot/hotspot.key"
	SlotDir     = "var/lib/hotspot/slots"
	StateDir    = "var/lib/hotspot"
	keyOnDevice = "/var/lib/hotspot/hotspot.key"
)

// Options say what to flash where.
type Options struct {
	Bundle     string             // bundle directory (manifest.json at its top)
	Root       string             // gateway root filesystem
	ReleaseKey identity.PublicKey // the release key the host trusts
	BrokerURL  string             // network broker URL written into the settings; "" keeps the bundle's
	Region     string             // region override; "" keeps the bundle's
	SubBand    int                // sub-band with a region override; 0 = default
	Rand       io.Reader          // key entropy; nil = crypto/rand
	// AllowDowngrade permits flashing a version older than the one the root
	// already runs.
	AllowDowngrade bool
}

// Result is what was provisioned.
type Result struct {
	Address    identity.Address
	Name       string
	KeyCreated bool // false when an existing key was reused
	Version    string
	Arch       string
	Region     string
	// Onboard is the command line that asks the network to onboard the hotspot.
	Onboard string
}

// Flash verifies the bundle and provisions opts.Root.
func Flash(opts Options) (*Result, error) {
	if opts.Bundle == "" || opts.Root == "" {
		return nil, fmt.Errorf("%w: --bundle and --root are required", ErrBadOptions)
	}
	if opts.ReleaseKey == (identity.PublicKey{}) {
		return nil, fmt.Errorf("%w: the trusted release key is required", ErrBadOptions)
	}
	if err := CheckRoot(opts.Root); err != nil {
		return nil, err
	}
	m, err := bundle.Verify(opts.Bundle, opts.ReleaseKey)
	if err != nil {
		return nil, fmt.Errorf("flash: bundle %s refused: %w", opts.Bundle, err)
	}
	if got, err := DetectArch(opts.Root); err != nil {
		return nil, err
	} else if got != "" && got != m.Arch {
		return nil, fmt.Errorf("%w: bundle is for %s, root %s looks like %s", ErrArchMismatch, m.Arch, opts.Root, got)
	}
	if have := InstalledVersion(opts.Root); have != "" && !opts.AllowDowngrade {
		if err := manifest.CheckUpgrade(have, m.Version); errors.Is(err, manifest.ErrDowngrade) {
			return nil, fmt.Errorf("flash: root runs %s: %w (use --allow-downgrade)", have, err)
		}
	}
	for _, p := range []string{bundle.AgentPath, bundle.SettingsPath} {
		if _, ok := m.Lookup(p); !ok {
			return nil, fmt.Errorf("flash: bundle lacks %s: %w", p, manifest.ErrMissing)
		}
	}

	region := m.Region
	var confOverride []byte
	if opts.Region != "" && (!strings.EqualFold(opts.Region, m.Region) || (opts.SubBand != 0 && opts.SubBand != m.SubBand)) {
		region = strings.ToUpper(opts.Region)
		plan, err := pktfwd.NewPlan(region, opts.SubBand)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
		if confOverride, err = plan.GlobalConf(pktfwd.DefaultGateway()); err != nil {
			return nil, err
		}
	}

	// Key first: it is the one thing never overwritten.
	key, created, err := ensureKey(filepath.Join(opts.Root, filepath.FromSlash(KeyPath)), opts.Rand)
	if err != nil {
		return nil, err
	}

	settings, err := settingsFor(filepath.Join(opts.Bundle, filepath.FromSlash(bundle.SettingsPath)), region, opts.BrokerURL)
	if err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		src := filepath.Join(opts.Bundle, filepath.FromSlash(f.Path))
		var data []byte
		switch f.Path {
		case bundle.SettingsPath:
			data = settings
		case bundle.ForwarderConfPath:
			data = confOverride
		}
		if data == nil {
			if data, err = readChecked(src, f); err != nil {
				return nil, err
			}
		}
		if err := install(opts.Root, f.Path, data, fs.FileMode(f.Mode)); err != nil {
			return nil, err
		}
		if f.Path == bundle.AgentPath {
			if err := install(opts.Root, SlotDir+"/a/hotspot", data, 0o755); err != nil {
				return nil, err
			}
			if err := install(opts.Root, SlotDir+"/a/version", []byte(m.Version+"\n"), 0o644); err != nil {
				return nil, err
			}
		}
	}
	if err := resetSlots(filepath.Join(opts.Root, filepath.FromSlash(SlotDir))); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Join(opts.Root, StateDir), 0o700); err != nil {
		return nil, err
	}
	addr := key.Address()
	return &Result{
		Address: addr, Name: identity.Name(key.Public()), KeyCreated: created,
		Version: m.Version, Arch: m.Arch, Region: region,
		Onboard: fmt.Sprintf("hexnet hotspot onboard --hotspot %s --owner-key OWNER.key --maker-key MAKER.key", addr),
	}, nil
}

// InstalledVersion returns the version of the agent the root runs (its
// current slot's), or "" when it has none.
func InstalledVersion(root string) string {
	slots := filepath.Join(root, filepath.FromSlash(SlotDir))
	cur := "a"
	if t, err := os.Readlink(filepath.Join(slots, "current")); err == nil && (t == "a" || t == "b") {
		cur = t
	}
	b, err := os.ReadFile(filepath.Join(slots, cur, "version"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// resetSlots makes slot a (just flashed) current with no update pending, in
// the layout of package ota.
func resetSlots(dir string) error {
	if err := os.Remove(filepath.Join(dir, "state.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp := filepath.Join(dir, "current.new")
	os.Remove(tmp)
	if err := os.Symlink("a", tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "current"))
}

// CheckRoot refuses a directory that lacks etc/, usr/bin/ or var/lib/.
func CheckRoot(root string) error {
	for _, d := range []string{"etc", "usr/bin", "var/lib"} {
		st, err := os.Stat(filepath.Join(root, filepath.FromSlash(d)))
		if err != nil || !st.IsDir() {
			return fmt.Errorf("%w: %s lacks %s/", ErrNotRootfs, root, d)
		}
	}
	return nil
}

// loaders maps dynamic loader names to bundle arches.
var loaders = map[string]string{
	"lib/ld-linux-aarch64.so.1":  "arm64",
	"lib/ld-linux-armhf.so.3":    "armv7",
	"lib64/ld-linux-x86-64.so.2": "amd64",
}

// machines maps ELF machines to bundle arches.
var machines = map[elf.Machine]string{elf.EM_AARCH64: "arm64", elf.EM_ARM: "armv7", elf.EM_X86_64: "amd64"}

// DetectArch guesses the root's architecture from its dynamic loader or,
// failing that, from the ELF machine of an executable in usr/bin or bin. It
// returns "" when it cannot tell.
func DetectArch(root string) (string, error) {
	for p, arch := range loaders {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			return arch, nil
		}
	}
	for _, dir := range []string{"usr/bin", "bin"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			continue
		}
		for i, e := range entries {
			if i > 64 {
				break
			}
			if !e.Type().IsRegular() {
				continue
			}
			f, err := elf.Open(filepath.Join(root, dir, e.Name()))
			if err != nil {
				continue
			}
			arch := machines[f.Machine]
			f.Close()
			if arch != "" {
				return arch, nil
			}
		}
	}
	return "", nil
}

// ensureKey loads the key at path or, when there is none, creates it.
func ensureKey(path string, r io.Reader) (*identity.Key, bool, error) {
	if _, err := os.Lstat(path); err == nil {
		k, err := identity.LoadKey(path)
		if err != nil {
			return nil, false, fmt.Errorf("flash: existing hotspot key %s kept, but it does not load: %w", path, err)
		}
		return k, false, nil
	}
	if r == nil {
		r = rand.Reader
	}
	k, err := identity.GenerateFrom(r)
	if err != nil {
		return nil, false, err
	}
	if err := identity.SaveKey(path, k); err != nil {
		return nil, false, fmt.Errorf("flash: write hotspot key: %w", err)
	}
	return k, true, nil
}

// settingsFor rewrites the bundle's settings with the region and broker URL,
// keeping everything else, and points key_file at the key on the device.
func settingsFor(name, region, brokerURL string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	cfg := hotspot.DefaultConfig()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return nil, fmt.Errorf("flash: bundle settings: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("flash: bundle settings: unknown key %s", und[0])
	}
	cfg.Region = region
	cfg.KeyFile = keyOnDevice
	if brokerURL != "" {
		cfg.Broker.URL = brokerURL
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("flash: settings: %w", err)
	}
	var out bytes.Buffer
	out.WriteString("# hexnet hotspot agent settings (written by hexnet firmware flash)\n\n")
	if err := config.Print(&out, &cfg, "HEXNET_"); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// readChecked reads a bundle file and checks it again against its entry, so
// a file swapped after verification is not installed.
func readChecked(name string, f manifest.File) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != f.Size {
		return nil, fmt.Errorf("%w: %s changed during flashing", manifest.ErrSize, f.Path)
	}
	if sum := manifest.SumBytes(data); sum != f.SHA256 {
		return nil, fmt.Errorf("%w: %s changed during flashing", manifest.ErrChecksum, f.Path)
	}
	return data, nil
}

// install writes data to root/rel atomically (temporary file, then rename).
func install(root, rel string, data []byte, mode fs.FileMode) error {
	dst := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".flash-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode.Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
