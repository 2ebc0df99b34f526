package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

// TestSelfSignedCertificateRustls checks the certificate of `wharf serve
// --self-signed` with rustls + webpki, the TLS stack uv uses. Go, curl and
// Python accept a CA certificate used as the server's own; webpki refuses it
// (CaUsedAsEndEntity) even when it is the trusted root, so uv could not talk
// to a development server at all. The client is a tiny Rust program built
// offline from Debian's packaged crates (librust-rustls-dev,
// librust-rustls-pemfile-dev); scripts/test installs them.
func TestSelfSignedCertificateRustls(t *testing.T) {
	t.Parallel()
	client := buildRustlsClient(t)
	s := startTrustedServer(t, devissuer.GitHubClaims{Repository: "octo/demo", RepositoryOwner: "octo"})
	_, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	// rustls 0.20 (Debian's) verifies DNS names only, so the client asks
	// for "localhost", one of the certificate's names, on the server's port.
	host := "localhost"
	for _, path := range []string{"/healthz", "/_/oidc/audience", "/local/simple/"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, client, s.CA, host, port, path).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("rustls client GET %s: %v\n%s", path, err, out)
		}
		if !strings.HasPrefix(string(out), "HTTP/1.1 200") {
			t.Errorf("rustls client GET %s: status line %q, want 200", path, out)
		}
	}
}

// buildRustlsClient builds e2e/testdata/rustls-client with cargo, offline,
// into a target directory kept between runs (the first build compiles ring
// and rustls: about a minute on two cores).
func buildRustlsClient(t *testing.T) string {
	t.Helper()
	cargo := requireTool(t, "cargo")
	if _, err := os.Stat("/usr/share/cargo/registry/rustls-pemfile-1.0.0"); err != nil {
		if matches, _ := filepath.Glob("/usr/share/cargo/registry/rustls-0.*"); len(matches) == 0 {
			missing(t, "Debian's rustls crates are missing (librust-rustls-dev, librust-rustls-pemfile-dev: see scripts/test)")
		}
	}
	src, err := filepath.Abs(filepath.Join("testdata", "rustls-client"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	target := filepath.Join(cache, "wharf-test", "rustls-client")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cargo, "build", "--release", "--offline", "--target-dir", target)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the rustls test client: %v\n%s", err, out)
	}
	return filepath.Join(target, "release", "rustls-client")
}
