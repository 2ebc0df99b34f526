package e2e

import (
	"database/sql"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to target until cut: then it drops
// every open connection and refuses new ones (a database lost to the
// network), until healed.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.Unlock()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]struct{}{}
	}
}

// TestDatabaseLost: a replica on PostgreSQL + S3 whose database goes away
// fails /readyz with 503 and refuses uploads with 503, while the project
// page and the file it already served are still served; when the
// database is back, it is ready again and takes uploads.
func TestDatabaseLost(t *testing.T) {
	t.Parallel()
	pg, s3 := clusterEnv(t)
	schema := "e2e_lost_" + randName(t)
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	dir := t.TempDir()
	config := filepath.Join(dir, "wharf.yaml")
	if err := os.WriteFile(config, []byte(backendsConfig(dir, u.String(), schema, s3, sharedKEK(t, dir))), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &server{bin: wharfBinary(t), addr: freeAddr(t), log: &logBuffer{}}
	s.URL = "http://" + s.addr
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("replica log:\n%s", s.log.tail(32<<10))
		}
	})
	startReplica(t, s, config)
	if t.Failed() {
		t.FailNow()
	}
	s.Admin = firstLine(s.wharf(t, "token", "create", "--config", config, "--admin"))
	const project = "wharf-demo"
	token := s.scopedToken(t, project, "upload,read", "1h")
	whl := makeWheel(t, project, "1.0.0")
	up := upload{project: project, version: "1.0.0", filetype: "bdist_wheel", filename: modName(project) + "-1.0.0-py3-none-any.whl", token: token}
	if code, body := up.post(t, s, whl); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	pageURL := s.URL + "/local/simple/" + project + "/"
	fileURL := s.URL + "/local/files/" + sha256hex(whl) + "/" + up.filename
	code, page := getBody(t, pageURL)
	if code != 200 {
		t.Fatalf("page: %d", code)
	}
	if code, b := getBody(t, fileURL); code != 200 || string(b) != string(whl) {
		t.Fatalf("download: %d", code)
	}

	proxy.setCut(true)
	deadline := time.Now().Add(15 * time.Second)
	for ready(s.URL) {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still 200 15s after the database went away")
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, body := getBody(t, s.URL+"/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz without the database: %d %s", code, body)
	}
	up2 := upload{project: project, version: "2.0.0", filetype: "bdist_wheel", filename: modName(project) + "-2.0.0-py3-none-any.whl", token: token}
	if code, body := up2.post(t, s, makeWheel(t, project, "2.0.0")); code != http.StatusServiceUnavailable {
		t.Errorf("upload without the database: %d %s; want 503", code, body)
	}
	if code, b := getBody(t, pageURL); code != 200 || string(b) != string(page) {
		t.Errorf("cached page without the database: %d\n%s", code, b)
	}
	if code, b := getBody(t, fileURL); code != 200 || string(b) != string(whl) {
		t.Errorf("cached file without the database: %d %.200s", code, b)
	}

	proxy.setCut(false)
	deadline = time.Now().Add(30 * time.Second)
	for !ready(s.URL) {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not back 30s after the database returned")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := up2.post(t, s, makeWheel(t, project, "2.0.0")); code != 200 {
		t.Errorf("upload after the database returned: %d %s", code, body)
	}
	if !strings.Contains(s.log.tail(64<<10), "not ready") {
		t.Error("the log does not say the replica was not ready")
	}
}
