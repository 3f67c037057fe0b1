package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hexnet/hexnet/internal/config"
	"github.com/hexnet/hexnet/internal/node"
)

// loadServeConfig applies defaults, the --config file, HEXNET_ environment and flags.
func loadServeConfig(name string, args []string, stderr io.Writer) (node.Config, int) {
	cfg := node.DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "TOML config file")
	l := config.NewLoader(&cfg, "HEXNET_")
	l.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return cfg, 2
	}
	if err := l.Load(*file); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return cfg, 2
	}
	return cfg, 0
}

func runConfigPrint(args []string, stdout, stderr io.Writer) int {
	cfg, code := loadServeConfig("hexnet config print", args, stderr)
	if code != 0 {
		return code
	}
	if err := config.Print(stdout, &cfg, "HEXNET_"); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func runServe(args []string, stdout, stderr io.Writer) int {
	cfg, code := loadServeConfig("hexnet serve", args, stderr)
	if code != 0 {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := node.New(cfg, node.Deps{Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "hexnet serve:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- n.Run(ctx) }()
	select {
	case <-n.Ready():
		fmt.Fprintf(stdout, "hexnet serve: explorer and API at http://%s  (health /healthz, metrics /metrics)\n", n.HTTPAddr())
		fmt.Fprintf(stdout, "hexnet serve: MQTT broker at %s; data in %s\n", n.BrokerURL(), cfg.DataDir)
	case err := <-errc:
		fmt.Fprintln(stderr, "hexnet serve:", err)
		return 1
	}
	if err := <-errc; err != nil {
		fmt.Fprintln(stderr, "hexnet serve:", err)
		return 1
	}
	return 0
}
