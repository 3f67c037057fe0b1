package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/hexnet/hexnet/firmware/bundle"
	"github.com/hexnet/hexnet/firmware/flash"
	"github.com/hexnet/hexnet/internal/identity"
)

const firmwareUsage = `usage:
  hexnet firmware build --arch arm64|armv7|amd64 --region R [--sub-band N] --version V --key release.key --out DIR [--channel C]
      cross-compile cmd/hotspot (module in the current directory) and write a signed bundle to DIR
  hexnet firmware verify --bundle DIR --release-key ADDR
      check a bundle's signature and every file's size and SHA-256
  hexnet firmware flash --bundle DIR --root ROOT --release-key ADDR [--broker URL] [--region R] [--sub-band N] [--allow-downgrade]
      provision a gateway root filesystem (mounted SD card or folder): agent, settings, forwarder config,
      units, and the hotspot key (created once, never replaced); prints the onboarding request

The release key address is the one you trust; a bundle cannot vouch for itself.
`

// runFirmware implements `hexnet firmware ...`.
func runFirmware(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, firmwareUsage)
		return 2
	}
	switch args[0] {
	case "build":
		return firmwareBuild(args[1:], stdout, stderr)
	case "verify":
		return firmwareVerify(args[1:], stdout, stderr)
	case "flash":
		return firmwareFlash(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, firmwareUsage)
		return 0
	}
	fmt.Fprintf(stderr, "hexnet firmware: unknown command %q\n\n%s", args[0], firmwareUsage)
	return 2
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hexnet firmware "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func firmwareBuild(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("build", stderr)
	var o bundle.Options
	keyFile := fs.String("key", "", "release key file (signs the manifest)")
	fs.StringVar(&o.Arch, "arch", "", "gateway architecture: arm64, armv7 or amd64")
	fs.StringVar(&o.Region, "region", "", "region: EU868, US915, AU915, AS923_1..4, IN865, KR920")
	fs.IntVar(&o.SubBand, "sub-band", 0, "forwarder sub-band for US915/AU915 (1..8; default 2)")
	fs.StringVar(&o.Version, "version", "", "semantic version of the agent, e.g. 1.4.2")
	fs.StringVar(&o.Channel, "channel", "", "release channel recorded in the manifest (stable, beta)")
	fs.StringVar(&o.Out, "out", "", "bundle directory to create")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *keyFile == "" || o.Arch == "" || o.Region == "" || o.Version == "" || o.Out == "" {
		fmt.Fprint(stderr, "hexnet firmware build: --arch, --region, --version, --key and --out are required\n\n", firmwareUsage)
		return 2
	}
	k, err := identity.LoadKey(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "hexnet firmware build:", err)
		return 1
	}
	o.Key = k
	o.Log = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := bundle.Build(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "hexnet firmware build:", err)
		return 1
	}
	fmt.Fprintf(stdout, "bundle %s: hotspot %s for %s, region %s", o.Out, m.Version, m.Arch, m.Region)
	if m.SubBand != 0 {
		fmt.Fprintf(stdout, " sub-band %d", m.SubBand)
	}
	fmt.Fprintf(stdout, ", signed by %s\n", k.Address())
	for _, f := range m.Files {
		fmt.Fprintf(stdout, "  %s  %9d  %s\n", f.SHA256, f.Size, f.Path)
	}
	return 0
}

func parseReleaseKey(s string, stderr io.Writer, cmd string) (identity.PublicKey, bool) {
	if s == "" {
		fmt.Fprintf(stderr, "hexnet firmware %s: --release-key ADDR (the release key you trust) is required\n", cmd)
		return identity.PublicKey{}, false
	}
	pk, err := identity.ParseAddress(s)
	if err != nil {
		fmt.Fprintf(stderr, "hexnet firmware %s: --release-key: %v\n", cmd, err)
		return identity.PublicKey{}, false
	}
	return pk, true
}

func firmwareVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", stderr)
	dir := fs.String("bundle", "", "bundle directory")
	rk := fs.String("release-key", "", "address of the trusted release key")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pk, ok := parseReleaseKey(*rk, stderr, "verify")
	if !ok || *dir == "" {
		return 2
	}
	m, err := bundle.Verify(*dir, pk)
	if err != nil {
		fmt.Fprintln(stderr, "hexnet firmware verify:", err)
		return 1
	}
	fmt.Fprintf(stdout, "bundle %s OK: hotspot %s for %s, region %s, %d files, signed by %s\n", *dir, m.Version, m.Arch, m.Region, len(m.Files), pk.Address())
	return 0
}

func firmwareFlash(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("flash", stderr)
	var o flash.Options
	rk := fs.String("release-key", "", "address of the trusted release key")
	fs.StringVar(&o.Bundle, "bundle", "", "bundle directory")
	fs.StringVar(&o.Root, "root", "", "gateway root filesystem (must have etc/, usr/bin/, var/lib/)")
	fs.StringVar(&o.BrokerURL, "broker", "", "network broker URL for the settings (tcp://host:port, ssl://host:port)")
	fs.StringVar(&o.Region, "region", "", "region override (rewrites the forwarder config)")
	fs.IntVar(&o.SubBand, "sub-band", 0, "sub-band with --region for US915/AU915")
	fs.BoolVar(&o.AllowDowngrade, "allow-downgrade", false, "flash even if the root runs a newer agent")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pk, ok := parseReleaseKey(*rk, stderr, "flash")
	if !ok {
		return 2
	}
	if o.Bundle == "" || o.Root == "" {
		fmt.Fprint(stderr, "hexnet firmware flash: --bundle and --root are required\n\n", firmwareUsage)
		return 2
	}
	o.ReleaseKey = pk
	res, err := flash.Flash(o)
	if err != nil {
		fmt.Fprintln(stderr, "hexnet firmware flash:", err)
		return 1
	}
	keyNote := "created"
	if !res.KeyCreated {
		keyNote = "kept (already present)"
	}
	fmt.Fprintf(stdout, "flashed hotspot %s (%s, region %s) into %s\n", res.Version, res.Arch, res.Region, o.Root)
	fmt.Fprintf(stdout, "hotspot key: %s %s\n", flash.KeyPath, keyNote)
	fmt.Fprintf(stdout, "address:     %s\n", res.Address)
	fmt.Fprintf(stdout, "name:        %s\n", res.Name)
	fmt.Fprintf(stdout, "onboard it (signed by the owner and the maker):\n  %s\n", res.Onboard)
	return 0
}
