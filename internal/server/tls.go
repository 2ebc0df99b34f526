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
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// devCertName is the subject of the certificates selfSigned writes; it
// tells them apart from certificates an operator put in their place.
const devCertName = "wharf development certificate"

// selfSigned writes a development certificate for loopback, the listen
// host and the public URL's host, unless one is already there. Clients that
// insist on https (trusted publishing) can be pointed at it: the file is
// both the server's certificate and the one certificate they trust.
//
// It is a self-signed end-entity certificate (CA:FALSE, serverAuth), not a
// CA: rustls/webpki, which uv uses, refuses a CA certificate presented as
// the server's own (CaUsedAsEndEntity) even when it is the trusted root,
// while accepting a self-signed leaf as its own trust anchor. Go, OpenSSL
// (curl, Python) accept both. A development certificate written by an
// earlier wharf as a CA is replaced.
func selfSigned(certFile, keyFile, listen, publicURL string) (created bool, err error) {
	if _, err := os.Stat(certFile); err == nil && !oldDevCA(certFile) {
		return false, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return false, err
	}
	tmpl := x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: devCertName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	hosts := []string{}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return false, err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return false, err
	}
	return true, writePEM(certFile, "CERTIFICATE", der, 0o644)
}

// oldDevCA reports whether certFile is a development certificate that an
// earlier wharf wrote as a CA certificate (which uv cannot use).
func oldDevCA(certFile string) bool {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false
	}
	return cert.IsCA && cert.Subject.CommonName == devCertName && cert.Issuer.CommonName == devCertName
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
