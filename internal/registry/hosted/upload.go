package hosted

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Upload is one legacy-API upload, already streamed to a temporary blob.
type Upload struct {
	Repo registry.Repository
	// Fields are the form fields, repeated keys kept in order.
	Fields map[string][]string
	// Filename is the content part's filename exactly as sent.
	Filename string
	Content  blob.Temp
	// MD5 and BLAKE2b256 are hex digests computed while streaming (the
	// Temp computes the sha256 itself).
	MD5, BLAKE2b256 string
	Actor           string
	UserAgent       string // for the file's provenance
	// Attestations is the PEP 740 attestations field as sent (a JSON
	// array), kept with the file unverified; nil when none was sent.
	Attestations []byte
	// Authorize is asked whether the caller may upload to the normalised
	// project name before anything is created.
	Authorize func(project string) error
}

// UploadResult says what happened.
type UploadResult struct {
	File registry.File
	// Existed is true when the identical file was already there (a no-op,
	// as PyPI answers byte-identical re-uploads).
	Existed        bool
	ProjectCreated bool
}

const op = "hosted.Upload"

// isAttestationList is the shape PEP 740 gives the attestations field: a
// JSON array of objects. What the objects say is not verified (yet); the
// file's provenance marks them so.
func isAttestationList(b []byte) bool {
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil || len(items) == 0 {
		return false
	}
	for _, it := range items {
		if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '{' {
			return false
		}
	}
	return true
}

func invalid(format string, args ...any) error {
	return errs.Errorf(errs.Invalid, op, format, args...)
}

// field returns the first non-empty value of key. Clients send empty strings
// for absent values (pdm) and distutils sent "UNKNOWN"; both mean absent.
func field(fields map[string][]string, key string) string {
	for _, v := range fields[key] {
		if v = strings.TrimSpace(v); v != "" && v != "UNKNOWN" {
			return v
		}
	}
	return ""
}

func validHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower-case letters; digits unaffected
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checked is what validation learned about an upload.
type checked struct {
	name     string // normalised project name
	display  string
	version  pypi.Version
	filetype registry.Filetype
	dist     pypi.Dist
	pyver    string
	requires string
	metadata []byte                 // core metadata to serve as {file}.metadata (wheels)
	core     *registry.CoreMetadata // parsed, when found
}

// validateForm checks the form fields and the filename, in PyPI's order,
// before the file's content is looked at.
func validateForm(u *Upload) (checked, error) {
	var c checked
	f := u.Fields
	if v := field(f, "protocol_version"); v != "" && v != "1" {
		return c, invalid("Unknown protocol version.")
	}
	if field(f, "metadata_version") == "" {
		return c, invalid("Missing metadata_version: send the Metadata-Version of the distribution.")
	}
	c.display = field(f, "name")
	if c.display == "" {
		return c, invalid("Missing name: send the project name in the 'name' field.")
	}
	if !pypi.ValidName(c.display) {
		return c, invalid("'%s' is an invalid value for Name. Names must start and end with a letter or digit and contain only ASCII letters, digits, '.', '-' and '_'.", c.display)
	}
	c.name = pypi.Normalize(c.display)
	rawVersion := field(f, "version")
	if rawVersion == "" {
		return c, invalid("Missing version: send the release version in the 'version' field.")
	}
	v, err := pypi.ParseVersion(rawVersion)
	if err != nil {
		return c, invalid("'%s' is an invalid value for Version. Use a PEP 440 version such as 1.0.2.", rawVersion)
	}
	if v.IsLocal() {
		return c, invalid("'%s' is an invalid value for Version. Local versions (with '+') cannot be uploaded.", rawVersion)
	}
	c.version = v
	switch ft := registry.Filetype(field(f, "filetype")); ft {
	case registry.Sdist, registry.Wheel:
		c.filetype = ft
	case "":
		return c, invalid("Missing filetype: use 'sdist' or 'bdist_wheel'.")
	default:
		return c, invalid("Unknown filetype '%s': use 'sdist' or 'bdist_wheel'.", ft)
	}
	c.pyver = field(f, "pyversion")
	switch {
	case c.filetype == registry.Sdist && c.pyver == "":
		c.pyver = "source"
	case c.filetype == registry.Sdist && c.pyver != "source":
		return c, invalid("Use 'source' as Python version for an sdist.")
	case c.filetype == registry.Wheel && c.pyver == "":
		return c, invalid("Python version is required for binary distribution uploads.")
	}
	sha, md5, b2 := field(f, "sha256_digest"), field(f, "md5_digest"), field(f, "blake2_256_digest")
	if sha == "" && md5 == "" && b2 == "" {
		return c, invalid("Include at least one message digest (sha256_digest, blake2_256_digest or md5_digest).")
	}
	if sha != "" && !validHex(sha, 64) || b2 != "" && !validHex(b2, 64) || md5 != "" && !validHex(md5, 32) {
		return c, invalid("A message digest is malformed: send lower-case hex (64 characters for sha256 and blake2_256, 32 for md5).")
	}
	c.requires = field(f, "requires_python")

	if u.Filename == "" {
		return c, invalid("Upload payload does not have a file.")
	}
	if err := pypi.CheckFilename(u.Filename); err != nil {
		return c, err
	}
	d, err := pypi.ParseFilename(u.Filename)
	if err != nil {
		return c, err
	}
	c.dist = d
	switch {
	case c.filetype == registry.Wheel && d.Kind != pypi.WheelDist:
		return c, invalid("Invalid file extension: a bdist_wheel upload must be a .whl file, got '%s'.", u.Filename)
	case c.filetype == registry.Sdist && d.Kind != pypi.SdistDist:
		return c, invalid("Invalid file extension: an sdist upload must be a .tar.gz (or .zip) file, got '%s'.", u.Filename)
	}
	if pypi.Normalize(d.Name) != c.name {
		return c, invalid("Start filename for '%s' with '%s'.", c.name, strings.ReplaceAll(c.name, "-", "_"))
	}
	fv, err := pypi.ParseVersion(d.Version)
	if err != nil || pypi.Compare(fv, v) != 0 {
		return c, invalid("Version in filename should be '%s' not '%s'.", v.String(), d.Version)
	}
	return c, nil
}

// verifyDigests compares every digest the client sent with what was computed.
func verifyDigests(u *Upload) error {
	for _, d := range []struct{ field, got string }{
		{"sha256_digest", u.Content.SHA256()},
		{"md5_digest", u.MD5},
		{"blake2_256_digest", u.BLAKE2b256},
	} {
		sent := strings.ToLower(field(u.Fields, d.field))
		if sent != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(d.got)) != 1 {
			return invalid("The digest supplied does not match a digest calculated from the uploaded file (%s). The file was damaged in transit or the digest is wrong: rebuild and upload again.", d.field)
		}
	}
	return nil
}

// inspect opens the archive and reads its core metadata, checking that it
// agrees with the form.
func (s *Service) inspect(u *Upload, c *checked) error {
	size := u.Content.Size()
	switch c.dist.Kind {
	case pypi.WheelDist:
		meta, m, err := pypi.InspectWheel(u.Content, size, c.dist)
		if err != nil {
			return errs.E(errs.Invalid, op, err)
		}
		c.metadata, c.core = meta, registry.MetadataOf(m)
		if c.requires == "" {
			c.requires = m.RequiresPython
		}
	default:
		var (
			m     pypi.Metadata
			found bool
			err   error
		)
		if strings.HasSuffix(strings.ToLower(u.Filename), ".zip") {
			_, m, found, err = pypi.InspectSdistZip(u.Content, size, c.dist)
		} else {
			_, m, found, err = pypi.InspectSdist(io.NewSectionReader(u.Content, 0, size), c.dist)
		}
		if err != nil {
			return errs.E(errs.Invalid, op, err)
		}
		if found {
			if pypi.Normalize(m.Name) != c.name {
				return invalid("PKG-INFO names the project '%s' but the upload is for '%s'.", m.Name, c.display)
			}
			if mv, err := pypi.ParseVersion(m.Version); err != nil || pypi.Compare(mv, c.version) != 0 {
				return invalid("PKG-INFO has version '%s' but the upload is for '%s'.", m.Version, c.version.String())
			}
			c.core = registry.MetadataOf(m)
			if c.requires == "" {
				c.requires = m.RequiresPython
			}
		}
	}
	return nil
}

// Upload validates and stores one file, with its details (core metadata,
// provenance), and records the upload, accepted or refused, in the audit
// log. Validation errors are errs.Invalid with a one-line message for the
// client; nothing is visible until every check passed.
func (s *Service) Upload(ctx context.Context, u *Upload) (UploadResult, error) {
	res, err := s.upload(ctx, u)
	s.auditUpload(ctx, u, res, err)
	return res, err
}

func (s *Service) upload(ctx context.Context, u *Upload) (UploadResult, error) {
	var res UploadResult
	if u.Repo.Kind != registry.Hosted {
		return res, invalid("Repository '%s' is a %s repository: upload to a hosted repository.", u.Repo.Name, u.Repo.Kind)
	}
	c, err := validateForm(u)
	if err != nil {
		return res, err
	}
	if u.Authorize != nil {
		if err := u.Authorize(c.name); err != nil {
			return res, err
		}
	}
	size := u.Content.Size()
	if size == 0 {
		return res, invalid("Invalid distribution file: the uploaded file is empty.")
	}
	if s.maxLen > 0 && size > s.maxLen {
		return res, errs.Errorf(errs.TooLarge, op, "File too large. Limit for repository '%s' is %s.", u.Repo.Name, registry.FormatBytes(s.maxLen))
	}
	if err := verifyDigests(u); err != nil {
		return res, err
	}
	if u.Attestations != nil && !isAttestationList(u.Attestations) {
		return res, invalid("The attestations field must be a non-empty JSON array of PEP 740 attestation objects.")
	}

	// A byte-identical re-upload is a no-op, and a different file under an
	// existing name is refused, before any work on the archive.
	if prev, err := s.store.Files().GetByFilename(ctx, u.Repo.ID, u.Filename); err == nil {
		return s.duplicate(prev, u)
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}

	// The same bytes under another filename (another spelling of the
	// name or version, a build tag added) are refused as PyPI does: one
	// file, one name.
	if prev, err := s.store.Files().GetBySHA256(ctx, u.Repo.ID, u.Content.SHA256()); err == nil {
		return res, sameContent(prev)
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}

	if err := s.inspect(u, &c); err != nil {
		return res, err
	}
	// Requires-Python, from the form or else the metadata, must be a
	// specifier set pip can evaluate: a bad one hides the release from
	// every installer.
	if _, err := pypi.ParseSpecifierSet(c.requires); err != nil {
		return res, invalid("'%s' is an invalid value for Requires-Python: use a PEP 440 specifier set such as '>=3.9' or '>=3.8,<4'.", c.requires)
	}

	file := registry.File{
		RepoID:         u.Repo.ID,
		Filename:       u.Filename,
		Version:        c.version.String(),
		Release:        c.version.Canonical(),
		Filetype:       c.filetype,
		PythonVersion:  c.pyver,
		RequiresPython: c.requires,
		Size:           size,
		SHA256:         u.Content.SHA256(),
		BLAKE2b256:     u.BLAKE2b256,
		MD5:            u.MD5,
		UploadedAt:     s.now().UTC(),
		UploadedBy:     u.Actor,
	}
	prov := s.provenance(ctx, u.Actor, u.UserAgent, file.UploadedAt)
	if u.Attestations != nil {
		prov.Attestations, prov.AttestationsStatus = u.Attestations, registry.AttestationsUnverified
	}
	// Blobs first, rows second: a crash in between leaves an unreferenced
	// blob for the sweep, never a row pointing at nothing. The two commits
	// each wait for an fsync, so they run side by side.
	var g errgroup.Group
	if c.metadata != nil {
		g.Go(func() error {
			info, err := s.putBytes(ctx, c.metadata)
			file.MetadataSHA256 = info.Key
			return err
		})
	}
	g.Go(func() error {
		if _, err := u.Content.Commit(ctx); err != nil {
			return errs.E(errs.KindOf(err), op, fmt.Errorf("storing %s: %w", u.Filename, err))
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return res, err
	}

	err = s.store.InTx(ctx, func(tx store.Store) error {
		p, created, err := tx.Projects().Ensure(ctx, registry.Project{RepoID: u.Repo.ID, Name: c.name, DisplayName: c.display})
		if err != nil {
			return err
		}
		res.ProjectCreated = created
		file.ProjectID = p.ID
		if err := tx.Files().Add(ctx, &file); err != nil {
			return err
		}
		return tx.Catalog().Put(ctx, file, registry.FileDetails{FileID: file.ID, Metadata: cmp.Or(c.core, formMetadata(u.Fields)), Provenance: prov})
	})
	switch {
	case errors.Is(err, store.ErrExists):
		// Another upload of the same filename won the race.
		prev, gerr := s.store.Files().GetByFilename(ctx, u.Repo.ID, u.Filename)
		if gerr != nil {
			return res, gerr
		}
		return s.duplicate(prev, u)
	case errors.Is(err, store.ErrContentExists):
		// Another upload of the same bytes under another name won the race.
		prev, gerr := s.store.Files().GetBySHA256(ctx, u.Repo.ID, file.SHA256)
		if gerr != nil {
			return res, gerr
		}
		return res, sameContent(prev)
	case errors.Is(err, store.ErrFilenameUsed):
		return res, invalid("This filename was previously used by a file that has since been deleted. Use a different version.")
	case err != nil:
		return res, err
	}
	s.Changed(u.Repo.ID)
	res.File = file
	return res, nil
}

func (s *Service) duplicate(prev registry.File, u *Upload) (UploadResult, error) {
	if prev.SHA256 == u.Content.SHA256() {
		return UploadResult{File: prev, Existed: true}, nil
	}
	return UploadResult{}, invalid("File already exists ('%s', with blake2_256 hash '%s'). Files cannot be replaced: upload a new version.", prev.Filename, prev.BLAKE2b256)
}

// sameContent refuses bytes already stored as prev under another name,
// with PyPI's wording.
func sameContent(prev registry.File) error {
	return invalid("File already exists ('%s', with blake2_256 hash '%s'): the same file cannot be uploaded again under another name. Build a new version.", prev.Filename, prev.BLAKE2b256)
}

// putBytes stores a small in-memory object.
func (s *Service) putBytes(ctx context.Context, b []byte) (blob.Info, error) {
	t, err := s.blobs.Create(ctx)
	if err != nil {
		return blob.Info{}, err
	}
	defer t.Abort()
	if _, err := t.Write(b); err != nil {
		return blob.Info{}, err
	}
	return t.Commit(ctx)
}
