package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/identity"
)

// runAgent runs the agent until SIGINT/SIGTERM.
func runAgent(cfg hotspot.Config, version string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	key, err := identity.LoadKey(cfg.KeyFile)
	if err != nil {
		fmt.Fprintf(stderr, "hotspot run: %v\n(create one with: hotspot keys generate --out %s)\n", err, cfg.KeyFile)
		return 1
	}
	dial, err := hotspot.MQTTDialer(cfg.Broker, log)
	if err != nil {
		fmt.Fprintln(stderr, "hotspot run:", err)
		return 2
	}
	a, err := hotspot.New(cfg, version, hotspot.Deps{Key: key, Dial: dial, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "hotspot run:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "hotspot run:", err)
		return 1
	}
	return 0
}
