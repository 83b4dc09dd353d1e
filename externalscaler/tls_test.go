package externalscaler

import (
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

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

type certKey struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func issue(t *testing.T, cn string, parent *certKey, usage x509.ExtKeyUsage) *certKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &certKey{cert: c, key: key, der: der}
}

func (c *certKey) write(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	kb, _ := x509.MarshalECPrivateKey(c.key)
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// TestTLSClientCertificates serves gRPC with TLS on 127.0.0.1:0 and
// requires client certificates, as with KEDA's TriggerAuthentication
// caCert, tlsClientCert and tlsClientKey.
func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := issue(t, "sparkdra-ca", nil, x509.ExtKeyUsageAny)
	caPath, _ := ca.write(t, dir, "ca")
	serverCert, serverKey := issue(t, "spark-dra-scaler", ca, x509.ExtKeyUsageServerAuth).write(t, dir, "server")
	client := issue(t, "keda", ca, x509.ExtKeyUsageClientAuth)

	cfg, err := ServerTLSConfig(serverCert, serverKey, caPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Options{DefaultSource: &fakeSource{}})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	s.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	call := func(certs []tls.Certificate) error {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(
			&tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12})))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = pb.NewExternalScalerClient(conn).GetMetricSpec(t.Context(), ref("so", meta()))
		return err
	}
	if err := call([]tls.Certificate{{Certificate: [][]byte{client.der}, PrivateKey: client.key}}); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
	if err := call(nil); err == nil {
		t.Error("without a client certificate: the call went through")
	}
}

func TestServerTLSConfigErrors(t *testing.T) {
	if cfg, err := ServerTLSConfig("", "", ""); cfg != nil || err != nil {
		t.Errorf("plaintext: %v %v", cfg, err)
	}
	for _, c := range [][3]string{{"", "", "ca.pem"}, {"c.pem", "", ""}, {"missing.crt", "missing.key", ""}} {
		if _, err := ServerTLSConfig(c[0], c[1], c[2]); err == nil {
			t.Errorf("%v: want an error", c)
		}
	}
}
