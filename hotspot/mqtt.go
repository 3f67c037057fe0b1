package hotspot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/hexnet/hexnet/internal/identity"
	"github.com/hexnet/hexnet/internal/mqttc"
	"github.com/hexnet/hexnet/internal/wire"
)

// mqttConn adapts an mqttc.Client to Conn.
type mqttConn struct{ c *mqttc.Client }

func (m mqttConn) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	return m.c.Publish(ctx, topic, qos, retained, payload)
}

func (m mqttConn) IsConnected() bool { return m.c.Connected() }
func (m mqttConn) Close() error      { return m.c.Close() }

// MQTTDialer returns the production Dialer: the network's broker at
// cfg.Broker.URL, logging in with the hotspot key, with the signed offline
// state as retained last will.
func MQTTDialer(cfg Broker, log *slog.Logger) (Dialer, error) {
	var tlsCfg *tls.Config
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hotspot: broker.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hotspot: broker.ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return func(ctx context.Context, key *identity.Key, will []byte, subs []Subscription, onConnect func()) (Conn, error) {
		ms := make([]mqttc.Subscription, len(subs))
		for i, s := range subs {
			ms[i] = mqttc.Subscription{Filter: s.Topic, QoS: 1, Handler: mqttc.Handler(s.Handler)}
		}
		c, err := mqttc.Dial(ctx, mqttc.Config{
			Subscriptions:        ms,
			URL:                  cfg.URL,
			Key:                  key,
			TLS:                  tlsCfg,
			Will:                 &mqttc.Will{Topic: wire.StateTopic(string(key.Address())), Payload: will, QoS: 1, Retained: true},
			MaxReconnectInterval: cfg.MaxReconnectDelay,
			OnConnect:            func(*mqttc.Client) { onConnect() },
			Logger:               log,
		})
		if err != nil {
			return nil, err
		}
		return mqttConn{c}, nil
	}, nil
}
