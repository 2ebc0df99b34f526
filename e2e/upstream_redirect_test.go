package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUpstreamRedirectsKeepCredentials: a remote repository with basic auth
// in front of a real nginx that redirects pages and files elsewhere. pip
// installs through wharf every time, and nginx's own log shows the
// Authorization header reached only the configured origin
// (http://127.0.0.1:A): never another port, another host name on the same
// port, or any later hop of a chain. (https to http is covered by the
// upstream package's unit test, which needs no certificate authority.)
func TestUpstreamRedirectsKeepCredentials(t *testing.T) {
	t.Parallel()
	wharfBinary(t)
	nginxBin := "/usr/sbin/nginx"
	if _, err := os.Stat(nginxBin); err != nil {
		nginxBin = requireTool(t, "nginx")
	}
	versions := map[string]string{"port-lib": "1.0", "file-lib": "1.0", "host-lib": "1.0", "chain-lib": "1.0"}
	wheels := map[string][]byte{}
	for p, v := range versions {
		wheels[p] = makeWheel(t, p, v)
	}
	tree := filepath.Join(t.TempDir(), "tree")
	writeSimpleTree(t, tree, versions, wheels, nil)

	n := &nginxServer{dir: t.TempDir()}
	a, b := freeAddr(t), freeAddr(t)
	portA := a[strings.LastIndex(a, ":")+1:]
	n.URL = "http://" + a
	n.setPassword(t, "wharf", "pw")
	// A (127.0.0.1:A) wants basic auth and redirects; "localhost" on the
	// same port is another virtual host, B another port. Every server logs
	// the Authorization header it received.
	conf := fmt.Sprintf(`%[1]s
worker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 64; }
http {
	log_format hops '$host:$server_port $uri auth=[$http_authorization]';
	access_log %[2]s/access.log hops;
	client_body_temp_path %[2]s/tmp-body;
	proxy_temp_path %[2]s/tmp-proxy;
	fastcgi_temp_path %[2]s/tmp-fastcgi;
	uwsgi_temp_path %[2]s/tmp-uwsgi;
	scgi_temp_path %[2]s/tmp-scgi;
	types { text/html html; }
	default_type application/octet-stream;
	root %[5]s;
	index index.html;
	server {
		listen %[3]s default_server;
		server_name 127.0.0.1;
		auth_basic "upstream";
		auth_basic_user_file %[2]s/htpasswd;
		location /simple/port-lib/ { return 302 http://%[4]s$request_uri; }
		location /packages/file_lib { return 302 http://%[4]s$request_uri; }
		location /simple/host-lib/ { return 302 http://localhost:%[6]s$request_uri; }
		location /simple/chain-lib/ { return 301 http://127.0.0.1:%[6]s/moved$request_uri; }
		location /moved/ { return 302 http://localhost:%[6]s/hop$request_uri; }
	}
	server {
		listen %[3]s;
		server_name localhost;
		location /hop/moved/ { rewrite ^/hop/moved(.*)$ http://%[4]s$1 redirect; }
	}
	server {
		listen %[4]s;
	}
}
`, nginxUserLine(), n.dir, a, b, tree, portA)
	n.run(t, nginxBin, conf, n.URL+"/simple/", 401)

	s := startServer(t)
	s.setSecret(t, "up-pw", "pw", true)
	s.admin(t, "repo", "create", "redir", "--kind", "remote", "--upstream", n.URL+"/simple/",
		"--auth", "basic", "--username", "wharf", "--secret", "up-pw")
	s.admin(t, "secret", "grant", "up-pw", "--repo", "redir")

	for _, p := range []string{"port-lib", "file-lib", "host-lib", "chain-lib"} {
		target, r := pipInstall(t, s.URL+"/redir/simple/", p)
		r.mustSucceed(t)
		if got := installedVersion(t, target, modName(p)); got != "1.0" {
			t.Errorf("%s: installed %s, want 1.0", p, got)
		}
	}

	logb, err := os.ReadFile(filepath.Join(n.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(\S+) (\S+) auth=\[(.*)\]$`)
	hops := map[string]bool{} // "host:port uri" -> had credentials
	for _, l := range strings.Split(strings.TrimSpace(string(logb)), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected access log line %q", l)
		}
		hops[m[1]+" "+m[2]] = m[3] != "" && m[3] != "-"
	}
	whl := func(p string) string { return "/packages/" + modName(p) + "-1.0-py3-none-any.whl" }
	hostA, hostLocal, hostB := "127.0.0.1:"+portA, "localhost:"+portA, "127.0.0.1:"+b[strings.LastIndex(b, ":")+1:]
	for hop, want := range map[string]bool{
		// another port
		hostA + " /simple/port-lib/": true, hostB + " /simple/port-lib/index.html": false,
		hostB + " " + whl("port-lib"): false,
		// a file redirected to another port from a page A served
		hostA + " /simple/file-lib/index.html": true, hostA + " " + whl("file-lib"): true,
		hostB + " " + whl("file-lib"): false,
		// another host name on the same port
		hostA + " /simple/host-lib/": true, hostLocal + " /simple/host-lib/index.html": false,
		hostLocal + " " + whl("host-lib"): false,
		// a chain: same origin (credentials), other host, other port
		hostA + " /simple/chain-lib/": true, hostA + " /moved/simple/chain-lib/": true,
		hostLocal + " /hop/moved/simple/chain-lib/": false, hostB + " /simple/chain-lib/index.html": false,
		hostB + " " + whl("chain-lib"): false,
	} {
		got, seen := hops[hop]
		if !seen {
			t.Errorf("nginx never saw %s\nlog:\n%s", hop, logb)
			continue
		}
		if got != want {
			t.Errorf("%s: credentials sent = %t, want %t", hop, got, want)
		}
	}
}
