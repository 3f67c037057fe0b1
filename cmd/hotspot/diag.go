package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/hexnet/hexnet/firmware/ota"
	"github.com/hexnet/hexnet/hotspot"
	"github.com/hexnet/hexnet/internal/identity"
)

// diagOptions are the knobs of `hotspot diag` beyond the agent config.
type diagOptions struct {
	Version     string           // this agent's version
	APIURL      string           // network HTTP API for the clock check; "" = unknown
	Now         func() time.Time // clock
	Timeout     time.Duration    // per network check
	MinFree     uint64           // bytes of free disk below which the check fails
	MaxSkew     time.Duration    // clock skew above which the check fails
	HTTP        *http.Client
	statusProbe string // overrides the status URL (tests)
}

// runDiag implements `hotspot diag`: it prints one line per check and
// returns 1 when any check fails. The clock check uses the network API named
// by HEXNET_API_URL when set.
func runDiag(cfg hotspot.Config, stdout io.Writer) int {
	return diagnose(cfg, diagOptions{Version: version, APIURL: os.Getenv("HEXNET_API_URL")}, stdout)
}

type diagReport struct {
	w      io.Writer
	failed bool
}

func (r *diagReport) line(status, check, format string, args ...any) {
	if status == "FAIL" {
		r.failed = true
	}
	fmt.Fprintf(r.w, "[%-4s] %-9s %s\n", status, check, fmt.Sprintf(format, args...))
}

// agentStatus is the part of the agent's GET /status that diag reads.
type agentStatus struct {
	Region             string `json:"region"`
	Version            string `json:"version"`
	ForwarderConnected bool   `json:"forwarder_connected"`
	BrokerConnected    bool   `json:"broker_connected"`
}

func diagnose(cfg hotspot.Config, o diagOptions, stdout io.Writer) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.MinFree == 0 {
		o.MinFree = 16 << 20
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 30 * time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: o.Timeout}
	}
	r := &diagReport{w: stdout}

	// Key: present, private, loadable.
	if st, err := os.Stat(cfg.KeyFile); err != nil {
		r.line("FAIL", "key", "%s: %v (flash the gateway or run `hotspot keys generate --out %s`)", cfg.KeyFile, err, cfg.KeyFile)
	} else if perm := st.Mode().Perm(); perm&0o077 != 0 {
		r.line("FAIL", "key", "%s has mode %04o; the group and others must have no access (chmod 600 %s)", cfg.KeyFile, perm, cfg.KeyFile)
	} else if k, err := identity.LoadKey(cfg.KeyFile); err != nil {
		r.line("FAIL", "key", "%s: %v", cfg.KeyFile, err)
	} else {
		r.line("OK", "key", "%s (%04o) address %s name %s", cfg.KeyFile, perm, k.Address(), identity.Name(k.Public()))
	}

	// Agent and forwarder, from the running agent's status endpoint.
	var status *agentStatus
	statusURL := o.statusProbe
	if statusURL == "" && cfg.Status.Listen != "" {
		statusURL = "http://" + cfg.Status.Listen + "/status"
	}
	if statusURL == "" {
		r.line("WARN", "forwarder", "unknown: the status endpoint is disabled (status.listen is empty)")
	} else if s, err := fetchStatus(o.HTTP, statusURL); err != nil {
		r.line("FAIL", "forwarder", "agent not running (%s: %v)", statusURL, err)
	} else {
		status = s
		if s.ForwarderConnected {
			r.line("OK", "forwarder", "packet forwarder seen on %s", cfg.Forward.Listen)
		} else {
			r.line("FAIL", "forwarder", "no packet forwarder on %s (is lora-pkt-fwd running, serv_port_up/down 1680?)", cfg.Forward.Listen)
		}
	}

	// Broker reachable.
	if addr, err := brokerAddr(cfg.Broker.URL); err != nil {
		r.line("FAIL", "broker", "%v", err)
	} else if c, err := net.DialTimeout("tcp", addr, o.Timeout); err != nil {
		r.line("FAIL", "broker", "%s unreachable: %v", addr, err)
	} else {
		c.Close()
		connected := ""
		if status != nil {
			connected = fmt.Sprintf(" (agent connected: %t)", status.BrokerConnected)
		}
		r.line("OK", "broker", "%s reachable%s", addr, connected)
	}

	// Region.
	switch {
	case cfg.Region != "":
		r.line("OK", "region", "%s (set locally)", cfg.Region)
	case status != nil && status.Region != "":
		r.line("OK", "region", "%s (from the network)", status.Region)
	default:
		r.line("WARN", "region", "not known yet: no local override and none received from the network")
	}

	// Version and slot.
	slots := ota.NewSlots(cfg.DataDir)
	if st, err := slots.State(); errors.Is(err, ota.ErrNoSlot) {
		r.line("OK", "version", "%s (no A/B slots installed)", o.Version)
	} else if err != nil {
		r.line("FAIL", "version", "%s; slots: %v", o.Version, err)
	} else {
		pending := ""
		if st.Pending {
			pending = fmt.Sprintf(", pending health check (boot %d)", st.Boots)
		}
		r.line("OK", "version", "%s, slot %s (%s)%s", o.Version, st.Current, slots.Version(st.Current), pending)
	}

	// Disk space of the data directory.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(cfg.DataDir, &fs); err != nil {
		r.line("FAIL", "disk", "%s: %v", cfg.DataDir, err)
	} else {
		free := uint64(fs.Bavail) * uint64(fs.Bsize)
		total := uint64(fs.Blocks) * uint64(fs.Bsize)
		st := "OK"
		if free < o.MinFree {
			st = "FAIL"
		}
		r.line(st, "disk", "%s: %s free of %s", cfg.DataDir, human(free), human(total))
	}

	// Clock skew against the network API's Date header.
	if o.APIURL == "" {
		r.line("WARN", "clock", "skew unknown: no network API configured (HEXNET_API_URL)")
	} else if skew, err := clockSkew(o.HTTP, o.APIURL, o.Now); err != nil {
		r.line("WARN", "clock", "skew unknown: %v", err)
	} else {
		st := "OK"
		if skew > o.MaxSkew || skew < -o.MaxSkew {
			st = "FAIL"
		}
		r.line(st, "clock", "local clock is %s off the network's (%s)", skew.Round(time.Second), o.APIURL)
	}

	if r.failed {
		return 1
	}
	return 0
}

func fetchStatus(c *http.Client, u string) (*agentStatus, error) {
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var s agentStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("bad status document: %w", err)
	}
	return &s, nil
}

// brokerAddr returns host:port of a broker URL, with the scheme's default port.
func brokerAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("bad broker URL %q", raw)
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "tcp", "mqtt":
			port = "1883"
		case "ssl", "tls", "mqtts", "tcps":
			port = "8883"
		case "ws":
			port = "80"
		case "wss":
			port = "443"
		default:
			return "", fmt.Errorf("broker URL %q: unknown scheme %q", raw, u.Scheme)
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// clockSkew returns local time minus the server's Date header, corrected by
// half the round trip.
func clockSkew(c *http.Client, u string, now func() time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return 0, err
	}
	start := now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	end := now()
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return 0, fmt.Errorf("no usable Date header from %s", u)
	}
	mid := start.Add(end.Sub(start) / 2)
	// Date has one-second resolution: skew below a second is not measurable.
	return mid.Sub(d).Truncate(time.Second), nil
}

func human(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
