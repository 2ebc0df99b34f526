package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wharf-dev/wharf/internal/adminapi"
)

const defaultServer = "http://127.0.0.1:8080"

// connFlags say which server a management command talks to and with which
// token. Environment variables are read when the command runs, never used
// as flag defaults, so --help cannot print a token.
type connFlags struct {
	server, token, caFile string
}

func (f *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", "", "wharf server URL (env WHARF_SERVER, default "+defaultServer+")")
	fs.StringVar(&f.token, "token", "", "API token (env WHARF_TOKEN; prefer the variable, command lines are visible to other users)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of a CA certificate to trust, for https with a self-signed certificate")
}

func (f *connFlags) serverURL(env Env) string {
	s := f.server
	if s == "" {
		s = env.Getenv("WHARF_SERVER")
	}
	if s == "" {
		s = defaultServer
	}
	return strings.TrimRight(s, "/")
}

// client builds the admin API client the flags describe.
func (f *connFlags) client(env Env) (*adminapi.Client, error) {
	tok := f.token
	if tok == "" {
		tok = env.Getenv("WHARF_TOKEN")
	}
	if tok == "" {
		return nil, errors.New("no API token: set WHARF_TOKEN or pass --token " +
			"(the first 'wharf serve' prints an admin token; 'wharf token create --admin --data DIR' makes one)")
	}
	hc, err := httpClient(f.caFile)
	if err != nil {
		return nil, err
	}
	return adminapi.NewClient(f.serverURL(env), tok, hc), nil
}

// httpClient is an HTTP client trusting the system roots plus caFile.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}
