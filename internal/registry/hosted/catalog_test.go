package hosted_test

import (
	"github.com/google/go-cmp/cmp"

	"strconv"
	"testing"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
	"github.com/wharf-dev/wharf/internal/store"
)

// TestUploadRecordsDetails: an upload stores the parsed core metadata and
// the provenance (token, and for a minted token the claims of its
// exchange), and the audit log has the upload, accepted or refused.
func TestUploadRecordsDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	for _, tok := range []registry.Token{
		{ID: "tok-ci", Description: "release bot", Origin: "cli", Scope: registry.Scope{Actions: []registry.Action{registry.Upload}}},
		{ID: "tok-tp", Description: "trusted publishing repository=acme/demo", Origin: "oidc:github",
			Scope: registry.Scope{Actions: []registry.Action{registry.Upload}}},
	} {
		tok.SecretHash, tok.CreatedAt = []byte(tok.ID), time.Now()
		if err := e.st.Tokens().Create(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	pub := registry.PublisherRecord{Repo: "local", Project: "demo-pkg", Kind: "github", Issuer: "https://iss", Config: []byte(`{}`)}
	if err := e.st.Publishers().Create(ctx, &pub); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Audit().Append(ctx, registry.AuditEvent{Action: "oidc.mint", Outcome: "ok", Target: "tok-tp",
		Detail: map[string]string{"issuer": "https://iss", "repository": "acme/demo", "job_workflow_ref": "acme/demo/.github/workflows/r.yml@refs/tags/v1",
			"ref": "refs/tags/v1", "sha": "abc", "run_id": "42", "run_attempt": "2", "environment": "pypi", "event_name": "push",
			"publishers": itoa(pub.ID)}}); err != nil {
		t.Fatal(err)
	}

	upload := func(actor, version string) registry.File {
		fn, body := wheel(t, "demo-pkg", version, version)
		tmp, _ := e.blobs.Create(ctx)
		defer tmp.Abort()
		tmp.Write(body)
		res, err := e.svc.Upload(ctx, &hosted.Upload{Repo: e.repo, Fields: form("demo-pkg", version, body), Filename: fn,
			Content: tmp, Actor: actor, UserAgent: "twine/6.1.0"})
		if err != nil {
			t.Fatalf("upload %s: %v", version, err)
		}
		return res.File
	}
	byToken, byTP := upload("tok-ci", "1.0"), upload("tok-tp", "2.0")

	ds, err := e.st.Catalog().ByProject(ctx, byToken.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	d := ds[byToken.ID]
	if d.Metadata == nil || d.Metadata.Name != "demo-pkg" || d.Metadata.RequiresPython != ">=3.8" {
		t.Errorf("metadata = %+v, want the wheel's METADATA", d.Metadata)
	}
	want := registry.Provenance{Kind: registry.ProvenanceToken, TokenID: "tok-ci", TokenDescription: "release bot",
		UploadedAt: byToken.UploadedAt, UserAgent: "twine/6.1.0"}
	if !cmp.Equal(d.Provenance, want) {
		t.Errorf("token provenance = %+v, want %+v", d.Provenance, want)
	}
	want = registry.Provenance{Kind: registry.ProvenanceTrusted, TokenID: "tok-tp", TokenDescription: "trusted publishing repository=acme/demo",
		Publisher: "github publisher " + itoa(pub.ID) + " (local/demo-pkg)", Issuer: "https://iss", Repository: "acme/demo",
		WorkflowRef: "acme/demo/.github/workflows/r.yml@refs/tags/v1", Ref: "refs/tags/v1", SHA: "abc", RunID: "42", RunAttempt: "2",
		Environment: "pypi", Event: "push", UploadedAt: byTP.UploadedAt, UserAgent: "twine/6.1.0"}
	if got := ds[byTP.ID].Provenance; !cmp.Equal(got, want) {
		t.Errorf("trusted-publishing provenance =\n%+v\nwant\n%+v", got, want)
	}

	// A refused upload is audited with the reason.
	fn, body := wheel(t, "demo-pkg", "1.0", "different")
	tmp, _ := e.blobs.Create(ctx)
	defer tmp.Abort()
	tmp.Write(body)
	if _, err := e.svc.Upload(ctx, &hosted.Upload{Repo: e.repo, Fields: form("demo-pkg", "1.0", body), Filename: fn, Content: tmp, Actor: "tok-ci"}); err == nil {
		t.Fatal("a different file under an existing name was accepted")
	}
	evs, err := e.st.Audit().List(ctx, store.AuditFilter{Action: "file.upload", Project: "demo-pkg"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Outcome != "refused" || evs[0].Detail["reason"] == "" || evs[0].Detail["actor"] != "release bot" ||
		evs[1].Outcome != "ok" || evs[1].Detail["actor"] != "trusted publishing repository=acme/demo" {
		t.Errorf("upload audit events = %+v", evs)
	}
}

// TestBackfill: files stored without details get them from their stored
// metadata, once.
func TestBackfill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	fn, body := wheel(t, "demo-pkg", "1.0", "a")
	res, err := e.upload(t, fn, body, form("demo-pkg", "1.0", body))
	if err != nil {
		t.Fatal(err)
	}
	// Forget the details, as for a file uploaded by an older wharf.
	if n, err := e.svc.Backfill(ctx); err != nil || n != 0 {
		t.Fatalf("Backfill with nothing missing = %d, %v", n, err)
	}
	if err := e.st.Files().Delete(ctx, res.File.ID); err != nil {
		t.Fatal(err)
	}
	old := res.File
	old.ID = 0 // a row without details, reusing the blobs
	old.Filename = "demo_pkg-1.0-1-py3-none-any.whl"
	if err := e.st.Files().Add(ctx, &old); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.Backfill(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Backfill = %d, %v; want 1", n, err)
	}
	ds, _ := e.st.Catalog().ByProject(ctx, old.ProjectID)
	d := ds[old.ID]
	if d.Metadata == nil || d.Metadata.Version != "1.0" || d.Provenance.Kind != registry.ProvenanceUnknown || d.Provenance.TokenID != "test" {
		t.Errorf("backfilled details = %+v / %+v", d.Metadata, d.Provenance)
	}
	if n, err := e.svc.Backfill(ctx); err != nil || n != 0 {
		t.Errorf("second Backfill = %d, %v; want 0 (idempotent)", n, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
