package upstream_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// origins is a RoundTripper that answers each origin (scheme://host:port,
// default ports spelled out) with its own handler, without a network, and
// records the Authorization header every hop carried.
type origins struct {
	handlers map[string]http.HandlerFunc
	mu       sync.Mutex
	seen     []string // "origin path auth?"
}

func (o *origins) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Port() == "" {
		host += map[string]string{"http": ":80", "https": ":443"}[req.URL.Scheme]
	}
	key := req.URL.Scheme + "://" + host
	o.mu.Lock()
	o.seen = append(o.seen, fmt.Sprintf("%s%s auth=%t", key, req.URL.Path, req.Header.Get("Authorization") != ""))
	o.mu.Unlock()
	h, ok := o.handlers[key]
	if !ok {
		return nil, fmt.Errorf("no route to %s", key)
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (o *origins) hops() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.seen
	o.seen = nil
	return out
}

// TestCredentialsStayWithTheUpstreamOrigin: upstream credentials go only
// to the configured upstream's exact scheme, host and port; every
// redirect elsewhere (another port, another host, even a subdomain, https
// to http, any hop of a chain) is followed without them, for pages and
// for files. net/http's own rule would send them to all but the first.
func TestCredentialsStayWithTheUpstreamOrigin(t *testing.T) {
	t.Parallel()
	const page = `<a href="https://idx.test/files/demo-1.0.tar.gz#sha256=aa">demo-1.0.tar.gz</a>`
	serve := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/") {
				w.Header().Set("Content-Type", "text/html")
			}
			io.WriteString(w, body)
		}
	}
	redirectTo := func(target string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target+r.URL.Path, http.StatusFound)
		}
	}
	for _, tt := range []struct {
		name     string
		upstream http.HandlerFunc // https://idx.test:443, the configured origin
		others   map[string]http.HandlerFunc
		want     []string // the hops of the page fetch, then of the file fetch
	}{
		{
			name:     "other port",
			upstream: redirectTo("https://idx.test:8443"),
			others:   map[string]http.HandlerFunc{"https://idx.test:8443": serve(page)},
			want: []string{
				"https://idx.test:443/simple/demo/ auth=true", "https://idx.test:8443/simple/demo/ auth=false",
				"https://idx.test:443/files/demo-1.0.tar.gz auth=true", "https://idx.test:8443/files/demo-1.0.tar.gz auth=false",
			},
		},
		{
			name:     "other host (a subdomain, which net/http trusts)",
			upstream: redirectTo("https://files.idx.test"),
			others:   map[string]http.HandlerFunc{"https://files.idx.test:443": serve(page)},
			want: []string{
				"https://idx.test:443/simple/demo/ auth=true", "https://files.idx.test:443/simple/demo/ auth=false",
				"https://idx.test:443/files/demo-1.0.tar.gz auth=true", "https://files.idx.test:443/files/demo-1.0.tar.gz auth=false",
			},
		},
		{
			name:     "https to http on the same host",
			upstream: redirectTo("http://idx.test"),
			others:   map[string]http.HandlerFunc{"http://idx.test:80": serve(page)},
			want: []string{
				"https://idx.test:443/simple/demo/ auth=true", "http://idx.test:80/simple/demo/ auth=false",
				"https://idx.test:443/files/demo-1.0.tar.gz auth=true", "http://idx.test:80/files/demo-1.0.tar.gz auth=false",
			},
		},
		{
			name: "a chain: same origin, then away, then further away",
			upstream: func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.URL.Path, "/moved") {
					http.Redirect(w, r, "https://idx.test:443/moved"+r.URL.Path, http.StatusMovedPermanently)
					return
				}
				http.Redirect(w, r, "https://mirror.test"+r.URL.Path, http.StatusFound)
			},
			others: map[string]http.HandlerFunc{
				"https://mirror.test:443": redirectTo("http://mirror.test:8080"),
				"http://mirror.test:8080": serve(page),
			},
			want: []string{
				"https://idx.test:443/simple/demo/ auth=true", "https://idx.test:443/moved/simple/demo/ auth=true",
				"https://mirror.test:443/moved/simple/demo/ auth=false", "http://mirror.test:8080/moved/simple/demo/ auth=false",
				"https://idx.test:443/files/demo-1.0.tar.gz auth=true", "https://idx.test:443/moved/files/demo-1.0.tar.gz auth=true",
				"https://mirror.test:443/moved/files/demo-1.0.tar.gz auth=false", "http://mirror.test:8080/moved/files/demo-1.0.tar.gz auth=false",
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := &origins{handlers: map[string]http.HandlerFunc{"https://idx.test:443": tt.upstream}}
			for k, h := range tt.others {
				o.handlers[k] = h
			}
			c := upstream.New(upstream.Config{Secrets: &fakeSecrets{versions: []string{"s3cret"}}, Transport: o})
			tgt := upstream.Target{Repo: "up", Settings: registry.RemoteSettings{Upstream: "https://idx.test:443/simple/", Auth: registry.AuthBasic, Username: "bot", Secret: "tok"}}
			p, err := c.Project(context.Background(), tgt, "demo")
			if err != nil || len(p.Files) != 1 {
				t.Fatalf("page: %+v, %v", p, err)
			}
			body, _, err := c.Open(context.Background(), tgt, p.Files[0].URL)
			if err != nil {
				t.Fatalf("file: %v", err)
			}
			body.Close()
			got := o.hops()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("hops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestRefusedAfterARedirectSaysNoCredentialsWereSent: a 401 from another
// origin is not blamed on the secret, which was never sent there.
func TestRefusedAfterARedirectSaysNoCredentialsWereSent(t *testing.T) {
	t.Parallel()
	o := &origins{handlers: map[string]http.HandlerFunc{
		"https://idx.test:443": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://idx.test:8443"+r.URL.Path, http.StatusFound)
		},
		"https://idx.test:8443": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "who?", http.StatusUnauthorized) },
	}}
	c := upstream.New(upstream.Config{Secrets: &fakeSecrets{versions: []string{"s3cret"}}, Transport: o})
	tgt := upstream.Target{Repo: "up", Settings: registry.RemoteSettings{Upstream: "https://idx.test/simple/", Auth: registry.AuthToken, Secret: "tok"}}
	_, err := c.Project(context.Background(), tgt, "demo")
	if err == nil || !strings.Contains(err.Error(), "redirected to https://idx.test:8443") || strings.Contains(err.Error(), "secret 'tok'") {
		t.Errorf("err = %v; want it to say the credentials were not sent to the redirect's origin", err)
	}
}
