package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hexnet/hexnet/firmware/ota"
	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/identity"
)

// launchedEnv marks a process started by the A/B launcher, so it does not relaunch itself.
const launchedEnv = "HEXNET_OTA_LAUNCHED"

// bootSlot runs the A/B boot step when updates are on: it counts the start of
// a pending slot (rolling back one that keeps failing) and, when the current
// slot's agent is not this executable, replaces this process with it.
func bootSlot(cfg hotspot.Config, log *slog.Logger) {
	if !cfg.Update.Enabled || os.Getenv(launchedEnv) != "" {
		return
	}
	res, err := ota.NewSlots(cfg.DataDir).Boot(3)
	if errors.Is(err, ota.ErrNoSlot) {
		return
	}
	if err != nil {
		log.Warn("a/b boot step failed; running the flashed agent", "err", err)
		return
	}
	if res.RolledBack {
		log.Warn("pending update failed its boots; rolled back", "slot", res.Slot, "version", res.Version)
	}
	self, _ := os.Executable()
	if res.Binary == "" || sameFile(res.Binary, self) {
		return
	}
	env := append(os.Environ(), launchedEnv+"=1")
	if err := syscall.Exec(res.Binary, append([]string{res.Binary}, os.Args[1:]...), env); err != nil {
		log.Warn("could not start the slot's agent; running the flashed one", "binary", res.Binary, "err", err)
	}
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// runAgent runs the agent until SIGINT/SIGTERM.
func runAgent(cfg hotspot.Config, version string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bootSlot(cfg, log)
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
