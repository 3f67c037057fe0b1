// Command hexnet is the network side of hexnet (`hexnet serve`) and the CLI
// that hosts, makers and operators use against it.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

// version is set at build time with -ldflags "-X main.version=V".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `hexnet: the network side of hexnet and its CLI

usage:
  hexnet serve [--config FILE] [flags]     run the network: embedded broker, store, network roles, HTTP
  hexnet devnet [--scenario small|city|cheaters|FILE] [--duration D] [--summary-json FILE] ...
                                           the whole network in one process over a simulated radio
  hexnet config print [--config FILE]      print the serve configuration with defaults, annotated
  hexnet keys generate --out FILE          create an ed25519 key file (mode 0600)
  hexnet keys show FILE                    print a key file's address and three-word name
  hexnet lorawan decode HEX|BASE64 [--nwkskey K] [--appskey K] [--appkey K]
                                           decode a LoRaWAN PHYPayload as JSON
  hexnet firmware build|verify|flash ...   build a signed agent bundle, check one, provision a gateway's root filesystem

` + ledgerUsage + `
  hexnet version                           print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintf(stdout, "hexnet %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	case "keys":
		return runKeys(args[1:], stdout, stderr)
	case "lorawan":
		return runLorawan(args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "print" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return runConfigPrint(args[2:], stdout, stderr)
	case "wallet":
		return runWallet(args[1:], stdout, stderr)
	case "maker":
		return runMaker(args[1:], stdout, stderr)
	case "hotspot":
		return runHotspot(args[1:], stdout, stderr)
	case "dc":
		return runDC(args[1:], stdout, stderr)
	case "oui":
		return runOUI(args[1:], stdout, stderr)
	case "rewards":
		return runRewards(args[1:], stdout, stderr)
	case "firmware":
		return runFirmware(args[1:], stdout, stderr)
	case "devnet":
		return runDevnet(args[1:], stdout, stderr)
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hexnet: unknown command %q\n\n%s", args[0], usage)
	return 2
}
