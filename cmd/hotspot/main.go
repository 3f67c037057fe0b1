// Command hotspot is the hexnet agent that runs on a hotspot's gateway beside
// the LoRa packet forwarder. It is pure Go (CGO_ENABLED=0) and cross-compiles
// to linux/arm64 and linux/arm.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/config"
	"github.com/hexnet/hexnet/internal/keycmd"
)

// version is set at build time with -ldflags "-X main.version=V".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `hotspot: the hexnet hotspot agent

usage:
  hotspot run [--config FILE] [flags]   run the agent
  hotspot keys generate --out FILE      create the hotspot key
  hotspot keys show FILE                print the hotspot's address and name
  hotspot config print [--config FILE]  print the configuration with its defaults, annotated
  hotspot diag [--config FILE]          check key, forwarder, broker, region, version, disk and clock
  hotspot version                       print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintf(stdout, "hotspot %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	case "keys":
		return keycmd.Run("hotspot", args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "print" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		cfg, code := loadConfig(args[2:], stderr)
		if code != 0 {
			return code
		}
		if err := config.Print(stdout, &cfg, "HEXNET_"); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "diag":
		cfg, code := loadConfig(args[1:], stderr)
		if code != 0 {
			return code
		}
		return runDiag(cfg, stdout)
	case "run":
		cfg, code := loadConfig(args[1:], stderr)
		if code != 0 {
			return code
		}
		return runAgent(cfg, version, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hotspot: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// loadConfig applies defaults, the --config file, HEXNET_ environment and flags.
func loadConfig(args []string, stderr io.Writer) (hotspot.Config, int) {
	cfg := hotspot.DefaultConfig()
	fs := flag.NewFlagSet("hotspot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "TOML config file")
	l := config.NewLoader(&cfg, "HEXNET_")
	l.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, 2
	}
	if err := l.Load(*file); err != nil {
		fmt.Fprintln(stderr, "hotspot:", err)
		return cfg, 2
	}
	return cfg, 0
}
