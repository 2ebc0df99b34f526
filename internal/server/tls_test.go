package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// The development certificate must be an end-entity certificate: rustls
// (uv) refuses a CA certificate as the server's own. The e2e test
// TestSelfSignedCertificateRustls checks it with rustls itself.
func TestSelfSignedIsEndEntity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	created, err := selfSigned(cert, key, "0.0.0.0:8443", "https://wharf.example.test:8443")
	if err != nil || !created {
		t.Fatalf("selfSigned = %v, %v; want created", created, err)
	}
	c := readCert(t, cert)
	if c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v; want an end-entity certificate (CA:FALSE)", c.IsCA, c.BasicConstraintsValid)
	}
	if c.KeyUsage&x509.KeyUsageCertSign != 0 || c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Errorf("key usage %b: want digitalSignature without keyCertSign", c.KeyUsage)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v, want serverAuth", c.ExtKeyUsage)
	}
	for _, name := range []string{"localhost", "wharf.example.test"} {
		if err := c.VerifyHostname(name); err != nil {
			t.Errorf("VerifyHostname(%s): %v", name, err)
		}
	}
	if !slices.ContainsFunc(c.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
		t.Errorf("IP SANs %v lack 127.0.0.1", c.IPAddresses)
	}
	// It is its own trust anchor, as clients given the file use it.
	roots := x509.NewCertPool()
	roots.AddCert(c)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err != nil {
		t.Errorf("verifying against itself: %v", err)
	}

	// A second start keeps the certificate.
	again, err := selfSigned(cert, key, "0.0.0.0:8443", "")
	if err != nil || again {
		t.Errorf("second selfSigned = %v, %v; want the existing certificate kept", again, err)
	}
}

// A CA-style development certificate from an earlier wharf is replaced; a
// certificate of someone else's is never touched.
func TestSelfSignedReplacesOldDevelopmentCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := selfSigned(cert, key, "127.0.0.1:8443", ""); err != nil {
		t.Fatal(err)
	}
	if oldDevCA(cert) {
		t.Fatal("a new certificate was taken for an old CA one")
	}
	// Rewrite it as the old generator did: same subject, CA:TRUE.
	writeTestCA(t, cert, devCertName)
	if !oldDevCA(cert) {
		t.Fatal("old development CA not recognised")
	}
	created, err := selfSigned(cert, key, "127.0.0.1:8443", "")
	if err != nil || !created {
		t.Fatalf("selfSigned over an old CA = %v, %v; want it replaced", created, err)
	}
	if readCert(t, cert).IsCA {
		t.Error("old CA certificate kept")
	}

	other := filepath.Join(dir, "other.pem")
	writeTestCA(t, other, "Acme internal CA")
	if created, err := selfSigned(other, filepath.Join(dir, "other-key.pem"), "127.0.0.1:8443", ""); err != nil || created {
		t.Errorf("selfSigned over an operator's certificate = %v, %v; want it kept", created, err)
	}
}

// writeTestCA writes a self-signed CA certificate named cn, as wharf wrote
// its development certificates before they became end-entity ones.
func writeTestCA(t *testing.T, file, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writePEM(file, "CERTIFICATE", der, 0o644); err != nil {
		t.Fatal(err)
	}
}
