// Package mosquitto_test proves that the network side's MQTT client works
// against an external broker: it starts a real Mosquitto on a free local
// port and exchanges QoS 1 and retained messages through internal/mqttc.
package mosquitto_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

const waitFor = 10 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// lookPath finds a Mosquitto binary, or skips the test (fails it under CI).
func lookPath(t *testing.T, name, fallback string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	if os.Getenv("CI") == "" {
		t.Skipf("%s not installed (apt-get install mosquitto); set CI=true to make this a failure", name)
	}
	t.Fatalf("%s not installed but CI is set", name)
	return ""
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a goroutine-safe buffer for the broker's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMosquitto runs Mosquitto with a password file and returns its URL.
func startMosquitto(t *testing.T, user, password string) string {
	t.Helper()
	bin := lookPath(t, "mosquitto", "/usr/sbin/mosquitto")
	dir := t.TempDir()
	port := freePort(t)

	conf := fmt.Sprintf("listener %d 127.0.0.1\npersistence false\nlog_dest stderr\n", port)
	if passwd, err := exec.LookPath("mosquitto_passwd"); err == nil {
		pwFile := filepath.Join(dir, "passwd")
		if out, err := exec.Command(passwd, "-b", "-c", pwFile, user, password).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
		_ = os.Chmod(pwFile, 0o600)
		conf += "allow_anonymous false\npassword_file " + pwFile + "\n"
	} else {
		conf += "allow_anonymous true\n"
	}
	if os.Getuid() == 0 {
		// As root Mosquitto drops to the user "mosquitto", which cannot read t.TempDir().
		conf += "user root\n"
	}
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-c", confFile)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", out.String())
		}
	})

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(waitFor)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("mosquitto exited: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s:\n%s", addr, out.String())
		}
	}
	return "mqtt://" + addr
}

type message struct{ topic, payload string }

func collector() (mqttc.Handler, chan message) {
	ch := make(chan message, 64)
	return func(topic string, payload []byte) { ch <- message{topic, string(payload)} }, ch
}

func next(t *testing.T, ch chan message) message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatal("no message")
		return message{}
	}
}

func dial(t *testing.T, cfg mqttc.Config) *mqttc.Client {
	t.Helper()
	cfg.Logger = quiet()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := mqttc.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestMosquitto(t *testing.T) {
	const user, password = "hexnet", "s3cret-for-tests"
	url := startMosquitto(t, user, password)
	ctx := context.Background()

	// Wrong credentials are refused (when a password file is in use, which
	// it is whenever mosquitto_passwd is installed beside mosquitto).
	if _, err := exec.LookPath("mosquitto_passwd"); err == nil {
		c, err := mqttc.Dial(ctx, mqttc.Config{URL: url, ClientID: "intruder", Username: user, Password: "wrong", Logger: quiet()})
		if err == nil {
			_ = c.Close()
			t.Error("mosquitto accepted a wrong password")
		}
	}

	h, ups := collector()
	subCfg := mqttc.Config{URL: url, ClientID: "router-1", Username: user, Password: password,
		Subscriptions: []mqttc.Subscription{{Filter: wire.UpFilter, QoS: 1, Handler: h}}}
	sub := dial(t, subCfg)
	// tcp:// and mqtt:// name the same transport.
	pub := dial(t, mqttc.Config{URL: "tcp://" + url[len("mqtt://"):], ClientID: "hotspot-1",
		Username: user, Password: password, CleanSession: true})

	t.Run("qos1", func(t *testing.T) {
		for p := range 3 {
			payload := fmt.Sprintf("uplink %d", p)
			if err := pub.Publish(ctx, wire.UpTopic(p), 1, false, []byte(payload)); err != nil {
				t.Fatal(err)
			}
			if got := next(t, ups); got != (message{wire.UpTopic(p), payload}) {
				t.Errorf("got %+v", got)
			}
		}
	})

	t.Run("qos1 queued for a persistent session", func(t *testing.T) {
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, wire.UpTopic(9), 1, false, []byte("while away")); err != nil {
			t.Fatal(err)
		}
		dial(t, subCfg)
		if got := next(t, ups); got != (message{wire.UpTopic(9), "while away"}) {
			t.Errorf("got %+v", got)
		}
	})

	// A service that acknowledges once done (the router, SubscribeDeferred)
	// gets what it left unacknowledged again from Mosquitto on its next
	// connection, even though Mosquitto resends it before the Subscribe.
	t.Run("deferred ack redelivered to a persistent session", func(t *testing.T) {
		type delivery struct {
			payload string
			ack     func()
		}
		connect := func() (*mqttc.Client, chan delivery) {
			c := dial(t, mqttc.Config{URL: url, ClientID: "router-deferred", Username: user, Password: password})
			time.Sleep(300 * time.Millisecond) // the resent messages arrive before the Subscribe
			got := make(chan delivery, 8)
			if err := c.SubscribeDeferred(wire.UpFilter, 1, func(_ string, p []byte, ack func()) {
				got <- delivery{string(p), ack}
			}); err != nil {
				t.Fatal(err)
			}
			return c, got
		}
		take := func(got chan delivery) delivery {
			t.Helper()
			select {
			case d := <-got:
				return d
			case <-time.After(waitFor):
				t.Fatal("no delivery")
				return delivery{}
			}
		}
		c, got := connect()
		for _, p := range []string{"acked", "not acked"} {
			if err := pub.Publish(ctx, wire.UpTopic(4), 1, false, []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		first := map[string]func(){}
		for range 2 {
			d := take(got)
			first[d.payload] = d.ack
		}
		first["acked"]()
		time.Sleep(200 * time.Millisecond) // the PUBACK reaches Mosquitto before the disconnect
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_, again := connect()
		if d := take(again); d.payload != "not acked" {
			t.Fatalf("redelivered %q, want only the unacknowledged message", d.payload)
		}
		select {
		case d := <-again:
			t.Fatalf("extra delivery %q", d.payload)
		case <-time.After(time.Second):
		}
	})

	t.Run("retained", func(t *testing.T) {
		if err := pub.Publish(ctx, wire.EntropyTopic, 1, true, []byte("entropy 42")); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, wire.ReleaseTopic("stable"), 1, true, []byte("v1.2.3")); err != nil {
			t.Fatal(err)
		}
		late := dial(t, mqttc.Config{URL: url, ClientID: "hotspot-2", Username: user, Password: password, CleanSession: true})
		h, got := collector()
		if err := late.Subscribe(wire.EntropyTopic, 1, h); err != nil {
			t.Fatal(err)
		}
		if m := next(t, got); m != (message{wire.EntropyTopic, "entropy 42"}) {
			t.Errorf("retained entropy = %+v", m)
		}
		if err := late.Subscribe(wire.ReleaseFilter, 1, h); err != nil {
			t.Fatal(err)
		}
		if m := next(t, got); m != (message{wire.ReleaseTopic("stable"), "v1.2.3"}) {
			t.Errorf("retained release = %+v", m)
		}
	})
}
