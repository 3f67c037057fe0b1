package node

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hexnet/hexnet/firmware/releases"
	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

// ReleasesConfig configures the firmware releases the network serves to agents.
type ReleasesConfig struct {
	Dir      string        `toml:"dir" help:"directory of release bundles (DIR/{channel}/{arch}/, as hexnet firmware build writes them); empty serves none"`
	Key      string        `toml:"key" help:"address of the release key every served bundle must be signed by"`
	KeyFile  string        `toml:"key_file" help:"the release key file, to sign the retained release announcements; empty announces nothing"`
	Channels []string      `toml:"channels" help:"channels announced on hexnet/v1/release/{channel}"`
	Interval time.Duration `toml:"interval" help:"how often the announcements are refreshed"`
}

// startReleases mounts the release index and files under /api/v1/releases/
// and, with the release key, keeps each channel's signed announcement
// retained on its topic.
func (n *Node) startReleases(ctx context.Context, mux *http.ServeMux, client *mqttc.Client) (func(context.Context) error, error) {
	cfg := n.cfg.Releases
	if cfg.Dir == "" {
		return nil, nil
	}
	h, err := releases.New(releases.Config{Dir: cfg.Dir, ReleaseKey: cfg.Key}, n.log)
	if err != nil {
		return nil, fmt.Errorf("node: releases: %w", err)
	}
	mux.Handle(releases.DefaultPrefix+"/", h)
	if cfg.KeyFile == "" {
		return nil, nil
	}
	key, err := identity.LoadKey(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: releases: %w", err)
	}
	if cfg.Key != "" && string(key.Address()) != cfg.Key {
		return nil, fmt.Errorf("node: releases: key_file is %s, not the release key %s", key.Address(), cfg.Key)
	}
	announce := func(ctx context.Context) {
		for _, ch := range cfg.Channels {
			rel, err := h.Release(key, ch, n.clk.Now())
			if err != nil {
				n.log.Debug("no release to announce", "channel", ch, "err", err)
				continue
			}
			b, err := wire.Marshal(rel)
			if err != nil {
				continue
			}
			pctx, c := context.WithTimeout(ctx, 10*time.Second)
			if err := client.Publish(pctx, wire.ReleaseTopic(ch), 1, true, b); err != nil {
				n.log.Warn("announce release", "channel", ch, "err", err)
			}
			c()
		}
	}
	return func(ctx context.Context) error {
		t := time.NewTicker(max(cfg.Interval, time.Second))
		defer t.Stop()
		for {
			announce(ctx)
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}, nil
}

func validChannels(chs []string) error {
	for _, c := range chs {
		if err := releases.ValidChannel(c); err != nil {
			return fmt.Errorf("releases.channels: %q: %w", strings.TrimSpace(c), err)
		}
	}
	return nil
}
