package externalscaler

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ServerTLSConfig loads the gRPC server certificate and key (PEM files)
// and, when clientCAFile is set, requires and verifies client certificates
// signed by that CA (KEDA sends them from a TriggerAuthentication's
// tlsClientCert/tlsClientKey; its caCert verifies this server). Empty
// certFile and keyFile mean plaintext: nil, nil.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		if clientCAFile != "" {
			return nil, errors.New("a client CA needs a server certificate and key")
		}
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("the server certificate and key go together")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	// Reload on every handshake so rotated certificates (Secrets) apply
	// without a restart.
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading server certificate: %w", err)
		}
		return &c, nil
	}
	if _, err := cfg.GetCertificate(nil); err != nil {
		return nil, err
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate found", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
