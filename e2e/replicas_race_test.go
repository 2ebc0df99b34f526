package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/devissuer"
)

// TestReplicasRaces: the races only replicas sharing a database can lose.
// The same cold remote page asked of both replicas at once makes one
// upstream fetch (in-process singleflight does not span processes; the
// database's advisory lock does), and the same OIDC ID token sent to both
// at once is exchanged once (the jti is claimed in the shared database).
func TestReplicasRaces(t *testing.T) {
	t.Parallel()
	// A shared issuer in the test process, declared in both replicas'
	// configuration.
	iss, err := devissuer.New(devissuer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	issURL, stopIss, err := iss.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopIss()
	// A counting upstream: one project page, slow enough that the two
	// replicas' requests overlap.
	var pageHits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/simple/racy/" {
			http.NotFound(w, r)
			return
		}
		pageHits.Add(1)
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		fmt.Fprint(w, `{"meta":{"api-version":"1.1"},"name":"racy","versions":["1.0"],"files":[{"filename":"racy-1.0-py3-none-any.whl","url":"/files/racy-1.0-py3-none-any.whl","hashes":{"sha256":"`+
			"ab"+string(bytes.Repeat([]byte("cd"), 31))+`"},"size":3}]}`)
	}))
	defer up.Close()

	c := startCluster(t, fmt.Sprintf(`oidc:
  audience: wharf-e2e
  issuers:
    - name: dev
      url: %s
      kind: github
`, issURL))
	a, b := c.replicas[0], c.replicas[1]
	c.front.admin(t, "repo", "create", "racy-up", "--kind", "remote", "--upstream", up.URL+"/simple/")
	// Both replicas know the repository before the race.
	for _, s := range []*server{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _ := getBody(t, s.URL+"/racy-up/simple/")
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s: /racy-up/simple/ answers %d", s.addr, code)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		s := []*server{a, b}[i%2]
		wg.Go(func() { codes[i], _ = getBody(t, s.URL+"/racy-up/simple/racy/") })
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("request %d: %d", i, code)
		}
	}
	if n := pageHits.Load(); n != 1 {
		t.Errorf("a cold page asked of both replicas at once was fetched %d times upstream, want 1", n)
	}

	// The same ID token to both replicas at once: one exchange succeeds.
	claims := devissuer.Example("acme", "1234", "widgets", "5678", "release.yml", "refs/tags/v1.0.0")
	c.front.admin(t, "publisher", "add", "--repo", "local", "--project", "wharf-demo", "--pending", "github", "--issuer", issURL,
		"--owner", "acme", "--owner-id", "1234", "--repository", "widgets", "--workflow", "release.yml")
	for round := range 3 {
		jwt, err := iss.Token("wharf-e2e", claims)
		if err != nil {
			t.Fatal(err)
		}
		status := make([]int, 2)
		bodies := make([]string, 2)
		for i, s := range []*server{a, b} {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]string{"token": jwt})
				resp, err := http.Post(s.URL+"/_/oidc/mint-token", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				rb, _ := io.ReadAll(resp.Body)
				status[i], bodies[i] = resp.StatusCode, string(rb)
			})
		}
		wg.Wait()
		ok := 0
		for _, st := range status {
			if st == http.StatusOK {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("round %d: one ID token sent to both replicas at once was exchanged %d times, want 1: %v %q", round, ok, status, bodies)
		}
	}
}
