package mqttc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hexnet/hexnet/internal/broker"
	"github.com/hexnet/hexnet/internal/wire"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hexnet test broker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(priv)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	svcKey, hsKey := testKey(t, 10), testKey(t, 1)
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile,
		Services: []string{string(svcKey.Address())}}, broker.Deps{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-errc })
	<-b.Ready()

	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	for _, scheme := range []string{"mqtts", "ssl", "tls"} {
		c := dial(t, Config{URL: scheme + "://" + b.Addr(), Key: hsKey, TLS: tlsCfg, CleanSession: true})
		if err := c.Publish(context.Background(), wire.UpTopic(1), 1, false, []byte("x")); err != nil {
			t.Errorf("%s: publish: %v", scheme, err)
		}
		// The next scheme logs in with the same client ID: were this client
		// left running it would reconnect and take the session back.
		_ = c.Close()
	}
	// Plain MQTT to the TLS port, and TLS without trusting the certificate, fail.
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	for _, cfg := range []Config{
		{URL: "tcp://" + b.Addr(), Key: hsKey, ConnectTimeout: time.Second},
		{URL: "mqtts://" + b.Addr(), Key: hsKey, TLS: &tls.Config{MinVersion: tls.VersionTLS12}},
	} {
		cfg.Logger = quiet()
		if c, err := Dial(short, cfg); err == nil {
			_ = c.Close()
			t.Errorf("%s without a trusted TLS session connected", cfg.URL)
		}
	}
}
