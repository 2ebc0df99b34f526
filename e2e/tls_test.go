package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

// trustedServer is a `wharf serve --self-signed --dev-issuer` process: https
// with a generated certificate, and an in-process development OIDC issuer
// whose claims come from a file the test rewrites.
type trustedServer struct {
	*server
	CA         string // the generated certificate, a CA bundle for clients
	Issuer     string // http://127.0.0.1:PORT
	claimsFile string
	// RequestURL and RequestToken are what `wharf serve` printed for
	// ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	RequestURL, RequestToken string
	client                   *http.Client // trusts CA
}

// startTrustedServer starts wharf over TLS with a development issuer that
// signs claims, and an admin token. It reuses server's process handling
// (log, stop, crash detection) with other arguments.
func startTrustedServer(t *testing.T, claims devissuer.GitHubClaims) *trustedServer {
	t.Helper()
	s := &trustedServer{server: &server{bin: wharfBinary(t), data: filepath.Join(t.TempDir(), "data"), log: &logBuffer{}}}
	s.claimsFile = filepath.Join(t.TempDir(), "claims.json")
	s.setClaims(t, claims)
	s.addr = freeAddr(t)
	s.URL = "https://" + s.addr
	s.CA = filepath.Join(s.data, "tls", "cert.pem")
	devAddr := freeAddr(t)
	s.Issuer = "http://" + devAddr
	t.Cleanup(func() {
		select {
		case <-s.done:
			t.Errorf("wharf serve exited during the test: %v", s.cmd.ProcessState)
		default:
		}
		s.stop()
		if t.Failed() {
			t.Logf("wharf serve log (%s):\n%s", s.data, s.log.tail(64<<10))
		}
	})

	s.cmd = exec.Command(s.bin, "serve", "--data", s.data, "--listen", s.addr, "--self-signed",
		"--dev-issuer", "--dev-issuer-listen", devAddr, "--dev-claims", s.claimsFile)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting wharf serve: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { cmd.Wait(); close(done) }()

	// The certificate exists once the server listens; wait for it, then
	// for /healthz over https with only that certificate trusted.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("wharf serve exited before it was ready: %v\n%s", s.cmd.ProcessState, s.log.tail(16<<10))
		default:
		}
		if s.client == nil {
			if c, err := caClient(s.CA); err == nil {
				s.client = c
			}
		}
		if s.client != nil {
			if resp, err := s.client.Get(s.URL + "/healthz"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("wharf serve --self-signed not healthy over https after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.RequestURL = s.printed(t, "ACTIONS_ID_TOKEN_REQUEST_URL")
	s.RequestToken = s.printed(t, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	s.Admin = firstLine(s.wharf(t, "token", "create", "--data", s.data, "--admin"))
	if s.Admin == "" {
		t.Fatal("wharf token create --admin printed no token")
	}
	return s
}

// printed reads `export NAME='value'` from what wharf serve printed.
func (s *trustedServer) printed(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile(`export ` + name + `='([^']+)'`).FindStringSubmatch(s.log.tail(1 << 20))
	if m == nil {
		t.Fatalf("wharf serve --dev-issuer did not print %s:\n%s", name, s.log.tail(16<<10))
	}
	return m[1]
}

// setClaims rewrites the claims file; the issuer reads it at every token
// request.
func (s *trustedServer) setClaims(t *testing.T, c devissuer.GitHubClaims) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.claimsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// caClient trusts only the PEM certificates in file.
func caClient(file string) (*http.Client, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate (yet)", file)
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

// admin runs a management command against the https server.
func (s *trustedServer) admin(t *testing.T, args ...string) string {
	t.Helper()
	r := runCmd(t, cmdSpec{name: s.bin, args: args, env: []string{
		"WHARF_SERVER=" + s.URL, "WHARF_TOKEN=" + s.Admin, "REQUESTS_CA_BUNDLE=" + s.CA, "SSL_CERT_FILE=" + s.CA,
	}})
	r.mustSucceed(t)
	return r.stdout
}
