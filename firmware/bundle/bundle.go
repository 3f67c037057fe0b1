// Package bundle builds a hotspot firmware bundle: the agent cross-compiled for
// the gateway (pure Go, CGO_ENABLED=0), its settings file, the Semtech packet
// forwarder's region config, systemd units, and a manifest.json signed by the
// release key (see package manifest for the signature encoding).
//
// A bundle is a directory whose layout mirrors the gateway's root filesystem:
//
//	manifest.json
//	usr/bin/hotspot
//	etc/hotspot/hotspot.toml
//	etc/lora-pkt-fwd/global_conf.json
//	etc/systemd/system/hotspot.service
//	etc/systemd/system/lora-pkt-fwd.service
package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hexnet/hexnet/firmware/manifest"
	"github.com/hexnet/hexnet/firmware/pktfwd"
	"github.com/hexnet/hexnet/firmware/semver"
	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/config"
	"github.com/hexnet/hexnet/internal/identity"
)

// Paths of the bundle's files (relative, slash-separated, as on the gateway).
const (
	AgentPath          = "usr/bin/hotspot"
	SettingsPath       = "etc/hotspot/hotspot.toml"
	ForwarderConfPath  = "etc/lora-pkt-fwd/global_conf.json"
	AgentUnitPath      = "etc/systemd/system/hotspot.service"
	ForwarderUnitPath  = "etc/systemd/system/lora-pkt-fwd.service"
	AgentPackage       = "./cmd/hotspot"
	agentInstalledPath = "/usr/bin/hotspot"
)

// ErrBadOptions is returned for build options that cannot produce a bundle.
var ErrBadOptions = errors.New("bundle: bad options")

// ErrNoModule is returned when no go.mod is found above the directory.
var ErrNoModule = errors.New("bundle: no go.mod found")

// Options say what to build.
type Options struct {
	Arch    string        // arm64, armv7 or amd64
	Region  string        // EU868, US915, ...
	SubBand int           // forwarder sub-band for US915/AU915; 0 = pktfwd.DefaultSubBand
	Version string        // semantic version stamped into the agent (main.version)
	Channel string        // release channel recorded in the manifest ("" when not published)
	Key     *identity.Key // release key that signs the manifest
	Out     string        // bundle directory; created, must be empty if it exists
	// ModuleDir is the directory to build from; "" walks up from the
	// current directory to the nearest go.mod.
	ModuleDir string
	// Binary, when set, is a prebuilt agent for Arch copied instead of
	// compiling (tests, or a CI that compiled already).
	Binary string
	// GoCmd is the go command; "" = "go".
	GoCmd string
	// Now is the clock stamped into the manifest; nil = time.Now.
	Now func() time.Time
	// Log receives the compiler's output; nil discards it.
	Log io.Writer
}

// GoEnv returns the GOOS/GOARCH/GOARM environment for a bundle arch.
func GoEnv(arch string) ([]string, error) {
	switch arch {
	case "arm64":
		return []string{"GOOS=linux", "GOARCH=arm64"}, nil
	case "armv7":
		return []string{"GOOS=linux", "GOARCH=arm", "GOARM=7"}, nil
	case "amd64":
		return []string{"GOOS=linux", "GOARCH=amd64"}, nil
	}
	return nil, fmt.Errorf("%w: arch %q (want %s)", ErrBadOptions, arch, strings.Join(manifest.Arches, ", "))
}

// FindModuleRoot walks up from dir to the directory holding go.mod.
func FindModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && st.Mode().IsRegular() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%w above %s", ErrNoModule, dir)
		}
		d = parent
	}
}

// Compile cross-compiles cmd/hotspot of the module in moduleDir for arch into
// out, with CGO_ENABLED=0 and main.version set to version.
func Compile(ctx context.Context, goCmd, moduleDir, arch, version, out string, log io.Writer) error {
	env, err := GoEnv(arch)
	if err != nil {
		return err
	}
	if _, err := semver.Parse(version); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	if goCmd == "" {
		goCmd = "go"
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-o", out,
		"-ldflags", "-s -w -X main.version="+version, AgentPackage)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stdout = log
	cmd.Stderr = &stderr
	if log != nil {
		cmd.Stderr = io.MultiWriter(&stderr, log)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bundle: go build %s for %s: %w\n%s", AgentPackage, arch, err, stderr.String())
	}
	return nil
}

// Settings returns the agent's hotspot.toml for a bundle: the agent defaults
// with region and the release key the updater trusts.
func Settings(region string, release identity.Address, brokerURL string) ([]byte, error) {
	cfg := hotspot.DefaultConfig()
	cfg.Region = region
	cfg.Network.Release = release.String()
	if brokerURL != "" {
		cfg.Broker.URL = brokerURL
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# hexnet hotspot agent settings (written by hexnet firmware)\n\n")
	if err := config.Print(&b, &cfg, "HEXNET_"); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// AgentUnit is the systemd unit of the agent.
const AgentUnit = `[Unit]
Description=hexnet hotspot agent
Documentation=https://github.com/hexnet/hexnet
After=network-online.target lora-pkt-fwd.service
Wants=network-online.target

[Service]
ExecStart=/usr/bin/hotspot run --config /etc/hotspot/hotspot.toml
Restart=always
RestartSec=5
# The updater restarts the agent after switching slots; a version that keeps
# failing is rolled back by the boot counter in /var/lib/hotspot/slots.
StateDirectory=hotspot
StateDirectoryMode=0700

[Install]
WantedBy=multi-user.target
`

// ForwarderUnit is the systemd unit of the Semtech packet forwarder. The
// forwarder binary (lora_pkt_fwd, C, board-specific) comes with the gateway's
// operating system image; it reads global_conf.json from its working directory.
const ForwarderUnit = `[Unit]
Description=Semtech LoRa packet forwarder (sends to the hexnet agent on localhost:1680)
After=network.target

[Service]
WorkingDirectory=/etc/lora-pkt-fwd
ExecStart=/usr/bin/lora_pkt_fwd
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`

// Build compiles (or copies opts.Binary) and writes a signed bundle into
// opts.Out, returning its manifest.
func Build(ctx context.Context, opts Options) (*manifest.Manifest, error) {
	if opts.Key == nil {
		return nil, fmt.Errorf("%w: no release key", ErrBadOptions)
	}
	if _, err := GoEnv(opts.Arch); err != nil {
		return nil, err
	}
	if _, err := semver.Parse(opts.Version); err != nil {
		return nil, fmt.Errorf("%w: version: %w", ErrBadOptions, err)
	}
	region := strings.ToUpper(opts.Region)
	if !slices.Contains(pktfwd.Regions, region) {
		return nil, fmt.Errorf("%w: region %q (want %s)", ErrBadOptions, opts.Region, strings.Join(pktfwd.Regions, ", "))
	}
	subBand := opts.SubBand
	if subBand == 0 {
		subBand = pktfwd.DefaultSubBand(region)
	}
	plan, err := pktfwd.NewPlan(region, subBand)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	if opts.Out == "" {
		return nil, fmt.Errorf("%w: no output directory", ErrBadOptions)
	}
	if entries, err := os.ReadDir(opts.Out); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: output directory %s is not empty", ErrBadOptions, opts.Out)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}

	agent := filepath.Join(opts.Out, filepath.FromSlash(AgentPath))
	if err := os.MkdirAll(filepath.Dir(agent), 0o755); err != nil {
		return nil, err
	}
	if opts.Binary != "" {
		if err := copyFile(opts.Binary, agent, 0o755); err != nil {
			return nil, err
		}
	} else {
		dir := opts.ModuleDir
		if dir == "" {
			dir = "."
		}
		root, err := FindModuleRoot(dir)
		if err != nil {
			return nil, err
		}
		if err := Compile(ctx, opts.GoCmd, root, opts.Arch, opts.Version, agent, opts.Log); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(agent, 0o755); err != nil {
		return nil, err
	}

	settings, err := Settings(region, opts.Key.Address(), "")
	if err != nil {
		return nil, err
	}
	conf, err := plan.GlobalConf(pktfwd.DefaultGateway())
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{SettingsPath, settings},
		{ForwarderConfPath, conf},
		{AgentUnitPath, []byte(AgentUnit)},
		{ForwarderUnitPath, []byte(ForwarderUnit)},
	} {
		if err := writeFile(filepath.Join(opts.Out, filepath.FromSlash(f.path)), f.data, 0o644); err != nil {
			return nil, err
		}
	}

	m := &manifest.Manifest{
		Format: manifest.Format, Version: opts.Version, Arch: opts.Arch, Region: region,
		SubBand: subBand, Channel: opts.Channel, CreatedAt: now().UTC().Format(time.RFC3339),
	}
	for _, p := range []string{AgentPath, SettingsPath, ForwarderConfPath, AgentUnitPath, ForwarderUnitPath} {
		f, err := manifest.HashFile(filepath.Join(opts.Out, filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		f.Path = p
		m.Files = append(m.Files, f)
	}
	m.SortFiles()
	signed, err := manifest.Sign(m, opts.Key)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(opts.Out, manifest.FileName), signed, 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// Verify checks the bundle in dir against the release key trusted: the
// manifest's signature, every file's size and SHA-256, and no unlisted files.
func Verify(dir string, trusted identity.PublicKey) (*manifest.Manifest, error) {
	return manifest.OpenDir(dir, trusted)
}

func writeFile(name string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, data, mode)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
