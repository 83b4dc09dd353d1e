//go:build e2e_k8s

package k8se2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// keyPair is a certificate with its private key, both also PEM-encoded.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// certSpec describes a leaf certificate to issue.
type certSpec struct {
	commonName string
	orgs       []string
	dnsNames   []string
	ips        []net.IP
	usages     []x509.ExtKeyUsage
}

var serial = big.NewInt(time.Now().UnixNano())

func nextSerial() *big.Int { return serial.Add(serial, big.NewInt(1)) }

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func encode(cert *x509.Certificate, key crypto.Signer) (*keyPair, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}, nil
}

// newCA returns a self-signed CA valid for a day.
func newCA(cn string) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return encode(cert, key)
}

// issue signs a leaf certificate for spec with ca.
func (ca *keyPair) issue(spec certSpec) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  spec.usages,
		DNSNames:     spec.dnsNames,
		IPAddresses:  spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", spec.commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return encode(cert, key)
}

// write stores the pair as dir/name.crt and dir/name.key and returns their paths.
func (kp *keyPair) write(dir, name string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, kp.certPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, kp.keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// pkiFiles are the paths of every certificate and key the stack uses.
type pkiFiles struct {
	caCert, caKey                 string
	apiserverCert, apiserverKey   string
	adminCert, adminKey           string
	kcmCert, kcmKey               string
	schedulerCert, schedulerKey   string
	frontProxyCA                  string
	frontProxyCert, frontProxyKey string
	saKey, saPub                  string
	kedaCertDir, kedaCADir        string // tls.crt, tls.key, ca.crt; and a directory with ca.crt only
	kedaCert                      string
	caPEM                         []byte
}

// makePKI writes a CA, the serving and client certificates of the control plane and KEDA, the
// front-proxy CA and client for API aggregation, and the ServiceAccount signing key into dir.
func makePKI(dir string) (*pkiFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f := &pkiFiles{}
	ca, err := newCA("sparkdra-e2e-ca")
	if err != nil {
		return nil, err
	}
	if f.caCert, f.caKey, err = ca.write(dir, "ca"); err != nil {
		return nil, err
	}
	f.caPEM = ca.certPEM
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	leaves := []struct {
		name      string
		spec      certSpec
		cert, key *string
	}{
		{"apiserver", certSpec{commonName: "kube-apiserver", usages: server,
			ips:      []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
			dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
			&f.apiserverCert, &f.apiserverKey},
		{"admin", certSpec{commonName: "kubernetes-admin", orgs: []string{"system:masters"}, usages: client}, &f.adminCert, &f.adminKey},
		{"kcm", certSpec{commonName: "system:kube-controller-manager", usages: client}, &f.kcmCert, &f.kcmKey},
		{"scheduler", certSpec{commonName: "system:kube-scheduler", usages: client}, &f.schedulerCert, &f.schedulerKey},
	}
	for _, l := range leaves {
		kp, err := ca.issue(l.spec)
		if err != nil {
			return nil, err
		}
		if *l.cert, *l.key, err = kp.write(dir, l.name); err != nil {
			return nil, err
		}
	}

	fpCA, err := newCA("sparkdra-e2e-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	if f.frontProxyCA, _, err = fpCA.write(dir, "front-proxy-ca"); err != nil {
		return nil, err
	}
	fp, err := fpCA.issue(certSpec{commonName: "front-proxy-client", usages: client})
	if err != nil {
		return nil, err
	}
	if f.frontProxyCert, f.frontProxyKey, err = fp.write(dir, "front-proxy-client"); err != nil {
		return nil, err
	}

	// One certificate serves KEDA's metrics adapter (checked by the aggregator under the Service
	// name) and both ends of the operator-adapter mTLS gRPC link (dialled on 127.0.0.1).
	keda, err := ca.issue(certSpec{commonName: "keda", usages: both, ips: loopback,
		dnsNames: []string{"localhost", "keda-metrics-apiserver.keda.svc", "keda-operator.keda.svc", "keda-operator.keda.svc.cluster.local"}})
	if err != nil {
		return nil, err
	}
	f.kedaCertDir = filepath.Join(dir, "keda")
	f.kedaCADir = filepath.Join(dir, "keda-ca")
	for _, d := range []string{f.kedaCertDir, f.kedaCADir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(d, "ca.crt"), ca.certPEM, 0o600); err != nil {
			return nil, err
		}
	}
	if f.kedaCert, _, err = keda.write(f.kedaCertDir, "tls"); err != nil {
		return nil, err
	}

	saKey, err := newKey()
	if err != nil {
		return nil, err
	}
	saDER, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}
	f.saKey = filepath.Join(dir, "sa.key")
	f.saPub = filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(f.saKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saDER}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		return nil, err
	}
	return f, nil
}
