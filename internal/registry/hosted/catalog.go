package hosted

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// ActorDescription says who a token is for people reading the audit log and
// provenance: its description, or the ID when the token is unknown.
func (s *Service) ActorDescription(ctx context.Context, tokenID string) string {
	if tokenID == "" {
		return ""
	}
	if t, err := s.store.Tokens().Get(ctx, tokenID); err == nil && t.Description != "" {
		return t.Description
	}
	return tokenID
}

// provenance describes an upload by tokenID. A token minted by an OIDC
// exchange is linked to its exchange through the audit log (the exchange
// event's target is the token ID), which holds the identifying claims. What
// cannot be read is left empty: provenance never fails an upload.
func (s *Service) provenance(ctx context.Context, tokenID, userAgent string, at time.Time) registry.Provenance {
	p := registry.Provenance{Kind: registry.ProvenanceToken, TokenID: tokenID, UploadedAt: at, UserAgent: userAgent}
	t, err := s.store.Tokens().Get(ctx, tokenID)
	if err != nil {
		return p
	}
	p.TokenDescription = t.Description
	if !strings.HasPrefix(t.Origin, "oidc:") {
		return p
	}
	p.Kind = registry.ProvenanceTrusted
	evs, err := s.store.Audit().List(ctx, store.AuditFilter{Action: "oidc.", Target: tokenID, Limit: 1})
	if err != nil || len(evs) == 0 {
		return p
	}
	d := evs[0].Detail
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := d[k]; v != "" {
				return v
			}
		}
		return ""
	}
	p.Issuer = d["issuer"]
	p.Publisher = s.publisherDescription(ctx, d["publishers"])
	// GitHub's claim names first, GitLab's equivalents second.
	p.Repository = first("repository", "project_path")
	p.WorkflowRef = first("job_workflow_ref", "workflow_ref", "ci_config_ref_uri")
	p.Ref = first("ref", "ref_path")
	p.SHA = d["sha"]
	p.RunID = first("run_id", "pipeline_id")
	p.RunAttempt = first("run_attempt", "job_id")
	p.Environment = d["environment"]
	p.Event = d["event_name"]
	return p
}

// publisherDescription names the publishers (comma-separated IDs) that
// granted an exchange: "github publisher 3 (acme/widget)".
func (s *Service) publisherDescription(ctx context.Context, ids string) string {
	var out []string
	for _, id := range strings.Split(ids, ",") {
		var n int64
		if _, err := fmt.Sscan(id, &n); err != nil {
			continue
		}
		desc := "publisher " + id
		if r, err := s.store.Publishers().Get(ctx, n); err == nil {
			desc = fmt.Sprintf("%s publisher %d (%s/%s)", r.Kind, r.ID, r.Repo, r.Project)
		}
		out = append(out, desc)
	}
	return strings.Join(out, ", ")
}

// auditUpload records an upload, accepted or refused with the reason the
// client was told. A failed audit write is logged, never fails the upload.
func (s *Service) auditUpload(ctx context.Context, u *Upload, res UploadResult, err error) {
	e := registry.AuditEvent{
		Time: s.now().UTC(), Actor: u.Actor, Action: "file.upload", Repo: u.Repo.Name,
		Target: u.Filename, Outcome: "ok",
		Detail: map[string]string{"actor": s.ActorDescription(ctx, u.Actor)},
	}
	if name := field(u.Fields, "name"); pypi.ValidName(name) {
		e.Project = pypi.Normalize(name)
	}
	if v := field(u.Fields, "version"); v != "" {
		e.Detail["version"] = v
	}
	switch {
	case err != nil:
		e.Outcome, e.Detail["reason"] = "refused", errs.Message(err)
	case res.Existed:
		e.Detail["existing"] = "true"
	default:
		e.Detail["sha256"] = res.File.SHA256
	}
	if u.UserAgent != "" {
		e.Detail["user_agent"] = u.UserAgent
	}
	if aerr := s.store.Audit().Append(context.WithoutCancel(ctx), e); aerr != nil {
		s.log.Error("writing the audit log failed", "action", e.Action, "error", aerr)
	}
}

// Backfill records details for files stored before wharf kept them: the
// core metadata read from the stored metadata blob (wheels) or the archive
// (sdists), and "unknown" provenance with the upload time and uploader.
// It is idempotent (only files without details are read) and returns how
// many files it filled. A file whose archive cannot be read gets its
// provenance and no metadata, so it is not read again.
func (s *Service) Backfill(ctx context.Context) (int, error) {
	var after int64
	n := 0
	for {
		files, err := s.store.Catalog().Missing(ctx, after, 100)
		if err != nil {
			return n, err
		}
		if len(files) == 0 {
			return n, nil
		}
		for _, f := range files {
			after = f.ID
			d := registry.FileDetails{FileID: f.ID, Provenance: registry.Provenance{
				Kind: registry.ProvenanceUnknown, TokenID: f.UploadedBy, UploadedAt: f.UploadedAt}}
			if m, err := s.readMetadata(ctx, f); err == nil {
				d.Metadata = registry.MetadataOf(m)
			} else if errors.Is(err, context.Canceled) {
				return n, err
			} else {
				s.log.Warn("backfill: core metadata not readable", "filename", f.Filename, "error", err)
			}
			if err := s.store.Catalog().Put(ctx, f, d); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue // deleted meanwhile
				}
				return n, err
			}
			n++
		}
	}
}

// readMetadata parses a stored file's core metadata.
func (s *Service) readMetadata(ctx context.Context, f registry.File) (pypi.Metadata, error) {
	if f.MetadataSHA256 != "" {
		r, err := s.blobs.Open(ctx, f.MetadataSHA256)
		if err != nil {
			return pypi.Metadata{}, err
		}
		defer r.Close()
		b, err := io.ReadAll(io.LimitReader(r, pypi.MaxMetadataSize+1))
		if err != nil {
			return pypi.Metadata{}, err
		}
		return pypi.ParseMetadata(b)
	}
	d, err := pypi.ParseFilename(f.Filename)
	if err != nil {
		return pypi.Metadata{}, err
	}
	r, err := s.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return pypi.Metadata{}, err
	}
	defer r.Close()
	size := r.Info().Size
	ra := seekReaderAt{r}
	var (
		m     pypi.Metadata
		found bool
	)
	switch {
	case d.Kind == pypi.WheelDist:
		_, m, err = pypi.InspectWheel(ra, size, d)
		found = err == nil
	case strings.HasSuffix(strings.ToLower(f.Filename), ".zip"):
		_, m, found, err = pypi.InspectSdistZip(ra, size, d)
	default:
		_, m, found, err = pypi.InspectSdist(r, d)
	}
	if err == nil && !found {
		err = errors.New("no PKG-INFO in the archive")
	}
	return m, err
}

// seekReaderAt reads a stored object at an offset (archives are opened
// with ReadAt); one reader at a time, as the archive readers use it.
type seekReaderAt struct{ io.ReadSeeker }

func (r seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r.ReadSeeker, p)
}

// formMetadata is the core metadata the upload form carries, for an sdist
// whose archive has no PKG-INFO (the form fields are named after the
// metadata fields, lower case with underscores, as twine sends them).
func formMetadata(f map[string][]string) *registry.CoreMetadata {
	all := func(k string) []string {
		var out []string
		for _, v := range f[k] {
			if v = strings.TrimSpace(v); v != "" && v != "UNKNOWN" {
				out = append(out, v)
			}
		}
		return out
	}
	return &registry.CoreMetadata{
		MetadataVersion: field(f, "metadata_version"), Name: field(f, "name"), Version: field(f, "version"),
		Summary: field(f, "summary"), Description: field(f, "description"),
		DescriptionContentType: field(f, "description_content_type"), Keywords: field(f, "keywords"),
		HomePage: field(f, "home_page"), DownloadURL: field(f, "download_url"),
		Author: field(f, "author"), AuthorEmail: field(f, "author_email"),
		Maintainer: field(f, "maintainer"), MaintainerEmail: field(f, "maintainer_email"),
		License: field(f, "license"), LicenseExpression: field(f, "license_expression"),
		LicenseFiles: all("license_file"), RequiresPython: field(f, "requires_python"),
		Classifiers: all("classifiers"), RequiresDist: all("requires_dist"), ProvidesExtra: all("provides_extra"),
		ProjectURLs: all("project_urls"), Platforms: all("platform"), Dynamic: all("dynamic"),
	}
}
