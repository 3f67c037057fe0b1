package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hexnet/hexnet/internal/devnet"
)

const devnetUsage = `usage: hexnet devnet [flags]

Runs the whole network in one process over a simulated radio: the network
side (broker, store, PoC, router, ledger, explorer), real hotspot agents with
simulated packet forwarders, simulated devices with a device maker's OUI and
LNS, and cheaters the network is not told about. Ctrl-C stops it cleanly.

flags:
`

func runDevnet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hexnet devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "small", "built-in scenario ("+strings.Join(devnet.Builtins(), ", ")+") or a TOML file")
	data := fs.String("data", "", "data directory (store, agents), new or empty, kept afterwards; a temporary one, removed afterwards, when empty")
	httpAddr := fs.String("http", "127.0.0.1:8080", "explorer and API address; 127.0.0.1:0 picks a free port")
	mqttAddr := fs.String("mqtt", "127.0.0.1:0", "embedded MQTT broker address")
	speedup := fs.Float64("speedup", 0, "simulated seconds per real second (0: the scenario's)")
	duration := fs.Duration("duration", 0, "stop after this much wall-clock time, e.g. 60s (0: until Ctrl-C)")
	summary := fs.String("summary-json", "", "write the run's summary as JSON to this file at the end")
	verbose := fs.Bool("v", false, "log the network's and agents' messages to stderr")
	fs.Usage = func() { fmt.Fprint(stderr, devnetUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hexnet devnet: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	s, err := devnet.LoadScenario(*scenario)
	if err != nil {
		fmt.Fprintln(stderr, "hexnet devnet:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = devnet.Run(ctx, devnet.Options{
		Scenario: s, DataDir: *data, HTTPAddr: *httpAddr, MQTTAddr: *mqttAddr, Speedup: *speedup,
		Duration: *duration, SummaryPath: *summary, Progress: stdout, Logger: log,
		OnReady: func(url string) {
			fmt.Fprintf(stdout, "hexnet devnet: scenario %s with %d hotspots; explorer at %s\n", s.Name, s.Hotspots.Count+s.Cheaters.Spoof+s.Cheaters.Ring+s.Cheaters.RSSIForge+s.Cheaters.Replay, url)
		},
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "hexnet devnet:", err)
		return 1
	}
	if *summary != "" {
		fmt.Fprintf(stdout, "hexnet devnet: summary written to %s\n", *summary)
	}
	return 0
}
