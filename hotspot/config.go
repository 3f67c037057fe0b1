// Package hotspot is the hotspot agent: it sits between the LoRa packet
// forwarder (Semtech UDP) and the network (MQTT), forwards uplinks, relays
// downlinks, beacons and witnesses, and queues reports on disk while the
// network is unreachable.
package hotspot

import (
	"errors"
	"fmt"
	"time"
)

// Config is the agent's configuration (TOML file, HEXNET_ environment, flags).
type Config struct {
	KeyFile string       `toml:"key_file" help:"path of the hotspot's ed25519 key file (mode 0600)"`
	DataDir string       `toml:"data_dir" help:"directory for the store-and-forward queue and the cached region"`
	Region  string       `toml:"region" help:"local region override (EU868, US915, ...); empty = take it from the network"`
	Broker  Broker       `toml:"broker" help:"the network's MQTT broker"`
	Network Network      `toml:"network" help:"keys of the network services whose messages the agent trusts"`
	Forward Forwarder    `toml:"forwarder" help:"the Semtech UDP (GWMP) server the packet forwarder talks to"`
	Status  StatusServer `toml:"status" help:"local status endpoint"`
	Queue   Queue        `toml:"queue" help:"store-and-forward queue"`
	PoC     PoC          `toml:"poc" help:"proof-of-coverage beaconing"`
	Update  Update       `toml:"update" help:"signed over-the-air updates (A/B slots)"`
}

// Update configures over-the-air updates.
type Update struct {
	Enabled        bool          `toml:"enabled" help:"check for, install and switch to new signed releases"`
	Channel        string        `toml:"channel" help:"pinned release channel: stable or beta"`
	APIURL         string        `toml:"api_url" help:"the network's HTTP API serving release manifests, e.g. https://net.example"`
	CheckInterval  time.Duration `toml:"check_interval" help:"how often to poll for a release (the retained release topic also triggers a check)"`
	HealthDeadline time.Duration `toml:"health_deadline" help:"a new version must reconnect to the broker within this, else it is rolled back"`
	InstallerHook  string        `toml:"installer_hook" help:"maker-supplied executable that replaces the A/B swap; empty = A/B slots"`
}

// Broker says how to reach the network's MQTT broker.
type Broker struct {
	URL               string        `toml:"url" help:"broker URL: tcp://host:port or ssl://host:port"`
	CAFile            string        `toml:"ca_file" help:"PEM CA bundle for ssl:// brokers; empty = system roots"`
	StatsInterval     time.Duration `toml:"stats_interval" help:"how often the agent publishes its state with stats"`
	MaxReconnectDelay time.Duration `toml:"max_reconnect_delay" help:"upper bound of the reconnect backoff"`
}

// Network holds the addresses of the network keys the agent trusts.
type Network struct {
	Router  string `toml:"router" help:"router address: downlinks must be signed by it"`
	Entropy string `toml:"entropy" help:"entropy oracle address: entropy must be signed by it"`
	Config  string `toml:"config" help:"network config address: region parameters must be signed by it"`
	Release string `toml:"release" help:"release key address: firmware manifests must be signed by it"`
}

// Forwarder configures the GWMP server.
type Forwarder struct {
	Listen string `toml:"listen" help:"UDP address the packet forwarder sends to (serv_port_up/down)"`
}

// StatusServer configures the local HTTP status endpoint.
type StatusServer struct {
	Listen string `toml:"listen" help:"HTTP address of GET /status; empty disables it"`
}

// Queue bounds the on-disk store-and-forward queue.
type Queue struct {
	MaxBytes int64 `toml:"max_bytes" help:"queue size bound in bytes; when full the oldest reports go first (counted)"`
}

// PoC configures beaconing.
type PoC struct {
	BeaconInterval time.Duration `toml:"beacon_interval" help:"one beacon per UTC-aligned bucket of this length"`
	Disabled       bool          `toml:"disabled" help:"do not beacon (still witness)"`
}

// DefaultConfig returns the agent's defaults for a gateway.
func DefaultConfig() Config {
	return Config{
		KeyFile: "/var/lib/hotspot/hotspot.key",
		DataDir: "/var/lib/hotspot",
		Broker: Broker{
			URL:               "tcp://127.0.0.1:1883",
			StatsInterval:     time.Minute,
			MaxReconnectDelay: 2 * time.Minute,
		},
		Forward: Forwarder{Listen: "127.0.0.1:1680"},
		Status:  StatusServer{Listen: "127.0.0.1:4467"},
		Queue:   Queue{MaxBytes: 64 << 20},
		PoC:     PoC{BeaconInterval: 6 * time.Hour},
		Update:  Update{Channel: "stable", CheckInterval: 6 * time.Hour, HealthDeadline: 5 * time.Minute},
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.KeyFile == "" {
		errs = append(errs, errors.New("key_file is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.Broker.URL == "" {
		errs = append(errs, errors.New("broker.url is empty"))
	}
	if c.Forward.Listen == "" {
		errs = append(errs, errors.New("forwarder.listen is empty"))
	}
	if c.Queue.MaxBytes < 1<<16 {
		errs = append(errs, fmt.Errorf("queue.max_bytes %d is below 64 KiB", c.Queue.MaxBytes))
	}
	if c.PoC.BeaconInterval < time.Second {
		errs = append(errs, fmt.Errorf("poc.beacon_interval %s is below 1s", c.PoC.BeaconInterval))
	}
	if c.Broker.StatsInterval <= 0 {
		errs = append(errs, errors.New("broker.stats_interval must be positive"))
	}
	if c.Update.Enabled {
		if c.Update.APIURL == "" || c.Network.Release == "" {
			errs = append(errs, errors.New("update.enabled needs update.api_url and network.release"))
		}
		if c.Update.Channel != "stable" && c.Update.Channel != "beta" {
			errs = append(errs, fmt.Errorf("update.channel %q: want stable or beta", c.Update.Channel))
		}
	}
	return errors.Join(errs...)
}
