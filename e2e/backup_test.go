package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// randomSdist is an sdist of size bytes of incompressible data, different
// for each version.
func randomSdist(t *testing.T, project, version string, size int64) []byte {
	t.Helper()
	var seed [32]byte
	copy(seed[:], project+version)
	var buf bytes.Buffer
	if err := writeSdist(&buf, project, version, randomData{rand.NewChaCha8(seed)}, size); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBackupWhileUploading backs up a running installation while uploads go
// on, restores it into a new directory and serves it: every file the
// restored index lists downloads with its sha256, none is missing, and the
// restored server takes uploads.
func TestBackupWhileUploading(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.scopedToken(t, "*", "upload,read", "1h")
	up := func(version string, size int64) (int, string) {
		return upload{project: "bk", version: version, filetype: "sdist", filename: "bk-" + version + ".tar.gz", token: tok}.
			post(t, s, randomSdist(t, "bk", version, size))
	}
	for i := range 20 {
		if code, body := up(fmt.Sprintf("1.%d", i), 256<<10); code != http.StatusOK {
			t.Fatalf("upload 1.%d: %d %s", i, code, body)
		}
	}

	// Uploads continue in the background for the whole backup.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if code, _ := up(fmt.Sprintf("2.%d", i), 64<<10); code == http.StatusOK {
				during.Add(1)
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	out := filepath.Join(t.TempDir(), "wharf.tar")
	res := runCmd(t, cmdSpec{name: s.bin, args: []string{"backup", "--data", s.data, "--to", out}})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	res.mustSucceed(t)
	t.Logf("backup: %s (%d uploads accepted meanwhile)", strings.TrimSpace(res.stdout), during.Load())
	if during.Load() == 0 {
		t.Error("no upload was accepted while the backup ran")
	}

	restoredDir := filepath.Join(t.TempDir(), "restored")
	r := runCmd(t, cmdSpec{name: s.bin, args: []string{"restore", out, "--data", restoredDir}})
	r.mustSucceed(t)
	t.Logf("restore: %s", strings.TrimSpace(r.stdout))

	restored := &server{bin: s.bin, data: restoredDir, log: &logBuffer{}, addr: freeAddr(t)}
	restored.URL = "http://" + restored.addr
	t.Cleanup(func() {
		restored.stop()
		if t.Failed() {
			t.Logf("restored wharf serve log:\n%s", restored.log.tail(32<<10))
		}
	})
	restored.start(t)

	page, ok := restored.projectJSON(t, "bk")
	if !ok {
		t.Fatal("the restored index has no project bk")
	}
	listed := map[string]bool{}
	for _, f := range page.Files {
		listed[f.Filename] = true
		checkDownload(t, resolve(t, restored.URL+"/local/simple/bk/", f.URL), f.Hashes["sha256"], f.Size)
	}
	for i := range 20 {
		if name := fmt.Sprintf("bk-1.%d.tar.gz", i); !listed[name] {
			t.Errorf("%s, uploaded before the backup, is not in the restored index", name)
		}
	}
	// The original has everything the restored copy has, and more.
	orig := s.indexFilenames(t, "bk")
	if len(orig) < len(page.Files) {
		t.Errorf("restored index lists %d files, the original only %d", len(page.Files), len(orig))
	}
	// The restored installation takes uploads (same tokens, same keys).
	code, body := upload{project: "bk", version: "3.0", filetype: "sdist", filename: "bk-3.0.tar.gz", token: tok}.
		post(t, restored, randomSdist(t, "bk", "3.0", 1<<10))
	if code != http.StatusOK {
		t.Errorf("upload to the restored server: %d %s", code, body)
	}
}

// TestBackupKilled kills `wharf backup` midway: the source keeps serving,
// no backup appears under the name asked for, and the partial one is
// refused by restore.
func TestBackupKilled(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.scopedToken(t, "*", "upload,read", "1h")
	const files, size = 40, 2 << 20 // 80 MiB: the copy takes a while
	sums := map[string]string{}
	for i := range files {
		v := fmt.Sprintf("1.%d", i)
		content := randomSdist(t, "killed", v, size)
		name := "killed-" + v + ".tar.gz"
		if code, body := (upload{project: "killed", version: v, filetype: "sdist", filename: name, token: tok}).post(t, s, content); code != http.StatusOK {
			t.Fatalf("upload %s: %d %s", v, code, body)
		}
		sums[name] = sha256hex(content)
	}

	out := filepath.Join(t.TempDir(), "wharf.tar")
	var midway bool
	for attempt := 0; attempt < 3 && !midway; attempt++ {
		os.Remove(out)
		os.Remove(out + ".partial")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, s.bin, "backup", "--data", s.data, "--to", out)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		// Kill it once the archive has some blobs in it.
		for {
			if fi, err := os.Stat(out + ".partial"); err == nil && fi.Size() > 4<<20 {
				break
			}
			if _, err := os.Stat(out); err == nil {
				break // finished before we could kill it
			}
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
		_, err := os.Stat(out)
		midway = os.IsNotExist(err)
	}
	if !midway {
		t.Fatal("the backup finished three times before it could be killed")
	}
	if _, err := os.Stat(out + ".partial"); err != nil {
		t.Fatalf("no partial backup left to check: %v", err)
	}
	for _, from := range []string{out, out + ".partial"} {
		r := runCmd(t, cmdSpec{name: s.bin, args: []string{"restore", from, "--data", filepath.Join(t.TempDir(), "r")}})
		r.mustFail(t)
		if !strings.Contains(r.stderr, "incomplete") {
			t.Errorf("restore %s: %q, want it called incomplete", filepath.Base(from), r.stderr)
		}
	}
	// The source is untouched: it serves every file and takes uploads.
	page, _ := s.projectJSON(t, "killed")
	if len(page.Files) != files {
		t.Errorf("source lists %d files after the kill, want %d", len(page.Files), files)
	}
	for _, f := range page.Files {
		if f.Hashes["sha256"] != sums[f.Filename] {
			t.Errorf("%s: sha256 %s, want %s", f.Filename, f.Hashes["sha256"], sums[f.Filename])
		}
	}
	checkDownload(t, resolve(t, s.URL+"/local/simple/killed/", page.Files[0].URL), page.Files[0].Hashes["sha256"], page.Files[0].Size)
	if code, body := (upload{project: "killed", version: "2.0", filetype: "sdist", filename: "killed-2.0.tar.gz", token: tok}).post(t, s, randomSdist(t, "killed", "2.0", 1<<10)); code != http.StatusOK {
		t.Errorf("upload after the killed backup: %d %s", code, body)
	}
	// A new backup succeeds over the partial one.
	r := runCmd(t, cmdSpec{name: s.bin, args: []string{"backup", "--data", s.data, "--to", out}})
	r.mustSucceed(t)
}
