package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/blob/fsblob"
	"github.com/wharf-dev/wharf/internal/httpapi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store/sqlstore"
)

// signingStore is an fsblob that also presigns, as s3blob does.
type signingStore struct{ *fsblob.Store }

func (signingStore) SignedURL(_ context.Context, key, filename, ctype string) (string, error) {
	return "https://bucket.example/" + key + "?fn=" + filename + "&ct=" + ctype, nil
}

func TestDownloadRedirect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(dir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var bs blob.Store = signingStore{fs}
	repo := registry.Repository{Name: "local", Kind: registry.Hosted, Public: true}
	if err := st.Repos().Create(ctx, &repo); err != nil {
		t.Fatal(err)
	}
	au := auth.New(auth.Config{Tokens: st.Tokens()})
	tok, _, err := au.Mint(ctx, auth.MintRequest{Scope: registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}}})
	if err != nil {
		t.Fatal(err)
	}
	h := hosted.New(hosted.Config{Store: st, Blobs: bs, MaxFileSize: 1 << 20})
	api := httpapi.New(httpapi.Config{Repos: st.Repos(), Hosted: h, Blobs: bs, Auth: au, MaxFileSize: 1 << 20, Redirect: true})
	e := &env{api: api, srv: httptest.NewServer(api.Handler())}
	t.Cleanup(e.srv.Close)

	fn, content := wheel(t, "demo", "1.0")
	ct, body := uploadBody(t, "demo", "1.0", fn, content, nil)
	if resp := e.post(t, "local", tok, ct, body); resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload: %s %s", resp.Status, b)
	}
	sum := sha256.Sum256(content)
	key := hex.EncodeToString(sum[:])

	resp, _ := e.get(t, "/local/files/"+key+"/"+fn, nil)
	want := "https://bucket.example/" + key + "?fn=" + fn + "&ct=application/zip"
	if resp.StatusCode != 302 || resp.Header.Get("Location") != want {
		t.Errorf("download = %s Location %q, want 302 to %q", resp.Status, resp.Header.Get("Location"), want)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, no-store" {
		t.Errorf("Cache-Control = %q, want private, no-store (the URL expires)", cc)
	}
	// A URL whose hash is not the file's is still refused, not redirected.
	other := hex.EncodeToString(make([]byte, 32))
	if resp, _ := e.get(t, "/local/files/"+other+"/"+fn, nil); resp.StatusCode != 404 {
		t.Errorf("download with a wrong hash = %s, want 404", resp.Status)
	}
}
