package e2e

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to make a schema per test
)

// cluster is two `wharf serve` replicas on one PostgreSQL schema and one
// S3 prefix (versitygw from scripts/start-s3.sh), behind Debian's nginx as
// a round-robin load balancer. front is the load balancer as a *server, so
// the helpers that take a server (twineUpload, upload.post, indexURL) go
// through it.
type cluster struct {
	replicas [2]*server
	front    *server
	config   string
}

// clusterEnv returns the PostgreSQL URL and S3 settings, skipping locally
// without them and failing in CI.
func clusterEnv(t *testing.T) (pg string, s3 map[string]string) {
	t.Helper()
	wharfBinary(t)
	pg = os.Getenv("WHARF_TEST_POSTGRES_URL")
	s3 = map[string]string{}
	for _, k := range []string{"ENDPOINT", "BUCKET", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"} {
		s3[k] = os.Getenv("WHARF_TEST_S3_" + k)
	}
	if pg == "" || s3["ENDPOINT"] == "" {
		missing(t, "replica tests need WHARF_TEST_POSTGRES_URL and WHARF_TEST_S3_* (scripts/test starts both)")
	}
	return pg, s3
}

// backendsConfig is the configuration text of a wharf on the test
// PostgreSQL (dsn) and S3 server, its files under prefix in the bucket and
// its local spool in dir.
func backendsConfig(dir, dsn, prefix string, s3 map[string]string, kekFile string) string {
	cfg := fmt.Sprintf(`data_dir: %s
database:
  driver: postgres
  dsn: %q
blobs:
  driver: s3
  s3:
    bucket: %s
    prefix: e2e-%s/
    endpoint: %s
    path_style: true
    access_key_id: %s
    secret_access_key: %s
`, filepath.Join(dir, "spool"), dsn, s3["BUCKET"], prefix, s3["ENDPOINT"], s3["ACCESS_KEY_ID"], s3["SECRET_ACCESS_KEY"])
	if kekFile != "" {
		cfg += "secrets:\n  kek_file: " + kekFile + "\n"
	}
	return cfg
}

// sharedKEK writes a key-encryption key into dir for every replica to name
// (PostgreSQL installations must configure one) and returns its path.
func sharedKEK(t *testing.T, dir string) string {
	t.Helper()
	var k [32]byte
	rand.Read(k[:])
	path := filepath.Join(dir, "kek")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randName(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startCluster starts the cluster; extra is appended to the replicas'
// configuration file (top-level YAML sections).
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	pg, s3 := clusterEnv(t)
	nginx := requireTool(t, "nginx")
	// A schema of its own: the replicas' tables, and nothing else's.
	schema := "e2e_" + randName(t)
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	dsn := pg + "&search_path=" + schema
	if !strings.Contains(pg, "?") {
		dsn = pg + "?search_path=" + schema
	}
	dir := t.TempDir()
	c := &cluster{}
	for i := range c.replicas {
		c.replicas[i] = &server{bin: wharfBinary(t), data: filepath.Join(dir, fmt.Sprintf("replica%d", i)), log: &logBuffer{}}
		c.replicas[i].addr = freeAddr(t)
		c.replicas[i].URL = "http://" + c.replicas[i].addr
	}
	frontAddr := freeAddr(t)
	c.config = filepath.Join(dir, "wharf.yaml")
	cfg := "public_url: http://" + frontAddr + "\n" + backendsConfig(dir, dsn, schema, s3, sharedKEK(t, dir))
	cfg += strings.Join(extra, "")
	if err := os.WriteFile(c.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Both replicas start at once: the migrations run under an advisory
	// lock, so one migrates and the other waits.
	var wg sync.WaitGroup
	for _, r := range c.replicas {
		t.Cleanup(func() {
			r.stop()
			if t.Failed() {
				t.Logf("replica %s log:\n%s", r.addr, r.log.tail(32<<10))
			}
		})
		wg.Go(func() { startReplica(t, r, c.config) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	admin := firstLine(c.replicas[0].wharf(t, "token", "create", "--config", c.config, "--admin"))
	for _, r := range c.replicas {
		r.Admin = admin
	}

	// nginx: round robin, request bodies streamed (as for uploads of any
	// size), everything under dir.
	ngx := filepath.Join(dir, "nginx")
	os.MkdirAll(filepath.Join(ngx, "logs"), 0o755)
	conf := fmt.Sprintf(`error_log %[1]s/logs/error.log;
pid %[1]s/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream wharf {
    server %[2]s max_fails=1 fail_timeout=2s;
    server %[3]s max_fails=1 fail_timeout=2s;
    keepalive 16;
  }
  server {
    listen %[4]s;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location / {
      proxy_pass http://wharf;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_next_upstream error timeout;
    }
  }
}
`, ngx, c.replicas[0].addr, c.replicas[1].addr, frontAddr)
	confPath := filepath.Join(ngx, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", ngx, "-c", confPath, "-g", "daemon off;")
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Workers inherit the output pipes: never wait for them forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(func() {
		// SIGTERM: nginx's fast shutdown, which also stops its workers
		// (SIGKILL would leave them running).
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(ngx, "logs", "error.log"))
			t.Logf("nginx:\n%s\n%s", out.tail(8<<10), b)
		}
	})
	c.front = &server{bin: wharfBinary(t), addr: frontAddr, URL: "http://" + frontAddr, Admin: admin, log: &logBuffer{}}
	waitReady(t, c.front.URL)
	return c
}

func startReplica(t *testing.T, s *server, config string) {
	fmt.Fprintf(s.log, "=== e2e: starting replica on %s\n", s.addr)
	s.cmd = exec.Command(s.bin, "serve", "--config", config, "--listen", s.addr)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Errorf("starting wharf serve: %v", err)
		return
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			t.Errorf("replica exited before it was ready: %v\n%s", cmd.ProcessState, s.log.tail(16<<10))
			return
		default:
		}
		if ready(s.URL) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("replica %s not ready after 60s", s.addr)
}

func ready(base string) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ready(base) {
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not ready after 30s", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestReplicasBehindLoadBalancer: twine and pip through nginx; a change on
// one replica reaches the other's page cache; the same file to both at
// once is stored once; kill -9 of one replica mid-uploads loses nothing
// committed and the other keeps serving.
func TestReplicasBehindLoadBalancer(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	a, b := c.replicas[0], c.replicas[1]
	const project, version = "wharf-demo", "1.0.0"
	token := c.front.scopedToken(t, project, "upload,read", "1h")

	// twine upload and pip install through the load balancer.
	files := buildDists(t, fixture(t, project, version))
	twineUpload(t, c.front, token, files).mustSucceed(t)
	target, r := pipInstall(t, c.front.indexURL(), project+"=="+version)
	r.mustSucceed(t)
	if got := installedVersion(t, target, modName(project)); got != version {
		t.Errorf("pip installed %s, want %s", got, version)
	}

	// Warm both replicas' caches of the project page, change it on A,
	// and B's page follows (within the serial poll interval).
	for _, s := range []*server{a, b} {
		if len(s.indexFilenames(t, project)) != len(files) {
			t.Fatalf("replica %s lists %v, want %d files", s.addr, s.indexFilenames(t, project), len(files))
		}
	}
	whl := makeWheel(t, project, "2.0.0")
	up := upload{project: project, version: "2.0.0", filetype: "bdist_wheel",
		filename: modName(project) + "-2.0.0-py3-none-any.whl", token: token}
	if code, body := up.post(t, a, whl); code != 200 {
		t.Fatalf("upload to A: %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(b.indexFilenames(t, project)) != len(files)+1 {
		if time.Now().After(deadline) {
			t.Fatalf("replica B still lists %v 5s after an upload to A", b.indexFilenames(t, project))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The same new file to both replicas at once: both succeed (the
	// second is the no-op of identical bytes) and it is listed once.
	same := makeWheel(t, project, "3.0.0")
	up3 := upload{project: project, version: "3.0.0", filetype: "bdist_wheel",
		filename: modName(project) + "-3.0.0-py3-none-any.whl", token: token}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	bodies := make([]string, 2)
	for i, s := range []*server{a, b} {
		wg.Go(func() { codes[i], bodies[i] = up3.post(t, s, same) })
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 200 {
			t.Errorf("concurrent upload %d: %d %s", i, codes[i], bodies[i])
		}
	}
	n := 0
	for _, f := range a.indexFilenames(t, project) {
		if f == up3.filename {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s listed %d times after concurrent uploads, want 1", up3.filename, n)
	}

	// kill -9 A while uploads go to it; B keeps serving everything that
	// was committed, and nothing half-written is listed.
	stop := make(chan struct{})
	var uploaded sync.Map // filename -> sha256 of what was acknowledged
	var ug sync.WaitGroup
	ug.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprintf("4.0.%d", i)
			u := upload{project: project, version: v, filetype: "bdist_wheel",
				filename: modName(project) + "-" + v + "-py3-none-any.whl", token: token}
			data := makeWheel(t, project, v)
			req := u.request(t, a, strings.NewReader(string(data)), int64(len(data)), sha256hex(data))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue // the replica died under us
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				uploaded.Store(u.filename, sha256hex(data))
			}
		}
	})
	time.Sleep(300 * time.Millisecond)
	a.kill9(t)
	close(stop)
	ug.Wait()
	count := 0
	uploaded.Range(func(k, v any) bool {
		count++
		fn, sum := k.(string), v.(string)
		code, body := getBody(t, c.front.URL+"/local/files/"+sum+"/"+fn)
		if code != 200 || sha256hex(body) != sum {
			t.Errorf("acknowledged upload %s after kill -9: GET through nginx = %d, sha256 %s, want 200 %s", fn, code, sha256hex(body), sum)
		}
		return true
	})
	t.Logf("%d uploads acknowledged before kill -9", count)
	page, ok := b.projectJSON(t, project)
	if !ok {
		t.Fatal("replica B does not serve the project page after A was killed")
	}
	for _, f := range page.Files {
		code, body := getBody(t, b.URL+"/local/files/"+f.Hashes["sha256"]+"/"+f.Filename)
		if code != 200 || sha256hex(body) != f.Hashes["sha256"] {
			t.Errorf("listed file %s: GET = %d with sha256 %s, want 200 %s", f.Filename, code, sha256hex(body), f.Hashes["sha256"])
		}
	}
	// pip through nginx still works with A down.
	_, r = pipInstall(t, c.front.indexURL(), project+"=="+version)
	r.mustSucceed(t)
}
