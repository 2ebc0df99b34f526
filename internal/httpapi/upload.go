package httpapi

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"golang.org/x/crypto/blake2b"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/registry/hosted"
)

// Limits on the non-file parts of an upload form. Descriptions (READMEs)
// are the largest legitimate fields.
const (
	maxFieldBytes = 4 << 20 // one field
	maxFormBytes  = 8 << 20 // all fields together
	maxFormFields = 2000
)

// upload is POST /{repo}/legacy/: the multipart form twine, flit, poetry,
// pdm and uv send. The file part is streamed to a temporary blob while
// hashing; the service checks it and makes it visible atomically.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	bodyRead := false
	fail := func(err error) {
		status := Status(err)
		logError(s.log, r, status, err)
		s.metrics.uploads.WithLabelValues(errs.KindOf(err).String()).Inc()
		writeUploadError(w, r, status, ClientMessage(r, err, s.cfg.Auth), bodyRead)
	}
	// Authenticate before reading a byte of the body.
	p, ok, err := s.principal(r)
	if err != nil {
		fail(err)
		return
	}
	if !ok {
		fail(errs.Errorf(errs.Unauthenticated, "httpapi", "Invalid or non-existent authentication information: upload with username __token__ and an API token as password."))
		return
	}
	repo, err := s.repos.get(r.Context(), r.PathValue("repo"))
	if err == nil && repo.Kind == registry.Virtual && s.cfg.UploadTarget != nil {
		// Uploads to a virtual repository go to its hosted member, and the
		// token must allow uploading there.
		repo, err = s.cfg.UploadTarget(r.Context(), repo)
	}
	if err != nil {
		fail(err)
		return
	}
	// Tokens scoped to projects are checked once the form names the project.
	if len(p.Scope.Projects) == 0 {
		if err := p.Check(registry.Upload, repo.Name, ""); err != nil {
			fail(err)
			return
		}
	}
	switch action := r.URL.Query().Get(":action"); action {
	case "", "file_upload":
	case "submit", "submit_pkg_info":
		fail(errs.Errorf(errs.Gone, "httpapi", "Project pre-registration is no longer required or supported, upload your files instead."))
		return
	case "doc_upload":
		fail(errs.Errorf(errs.Gone, "httpapi", "Uploading documentation is no longer supported."))
		return
	default:
		fail(errs.Errorf(errs.Invalid, "httpapi", "Unknown :action '%s': use file_upload.", action))
		return
	}

	// Authorised: the body may now take as long as a slow but steady
	// link needs.
	deadline, _ := r.Body.(*deadlineBody)
	if deadline != nil {
		deadline.uploadRate(s.cfg.UploadMinRate)
	}
	if s.cfg.MaxFileSize > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxFileSize+maxFormBytes+64<<10)
	}
	u := &hosted.Upload{Repo: repo, Fields: map[string][]string{}, Actor: p.TokenID, UserAgent: r.UserAgent()}
	defer func() {
		if u.Content != nil {
			_ = u.Content.Abort()
		}
	}()
	if err := s.readForm(r, u); err != nil {
		if deadline != nil && deadline.late {
			err = deadline.lateError()
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = errs.Errorf(errs.TooLarge, "httpapi", "File too large. The limit for one file is %s.", registry.FormatBytes(s.cfg.MaxFileSize))
		}
		fail(err)
		return
	}
	bodyRead = true
	if err := completeDigests(u); err != nil {
		fail(err)
		return
	}
	if a := firstField(u.Fields, ":action"); a != "" && a != "file_upload" {
		fail(errs.Errorf(errs.Invalid, "httpapi", "Unknown :action '%s': use file_upload.", a))
		return
	}
	u.Authorize = func(project string) error { return p.Check(registry.Upload, repo.Name, project) }
	res, err := s.cfg.Hosted.Upload(r.Context(), u)
	if err != nil {
		fail(err)
		return
	}
	outcome := "stored"
	if res.Existed {
		outcome = "existing"
	}
	s.metrics.uploads.WithLabelValues(outcome).Inc()
	s.log.Info("upload", "repo", repo.Name, "filename", res.File.Filename, "size", res.File.Size,
		"outcome", outcome, "token_id", p.TokenID, "request_id", requestID(r.Context()))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
}

func firstField(f map[string][]string, k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readForm streams the multipart body: fields into u.Fields (bounded), the
// file part into a temporary blob with md5 and blake2b-256 computed on the
// way (the blob computes sha256).
func (s *Server) readForm(r *http.Request, u *hosted.Upload) error {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	boundary := params["boundary"]
	if err != nil || boundary == "" {
		return errs.Errorf(errs.Invalid, "httpapi", "The upload must be a multipart/form-data body with a boundary.")
	}
	// mime/multipart reports a body cut between two parts as a clean end of
	// the form, so the closing delimiter is checked separately.
	tail := &tailReader{r: r.Body, keep: len(boundary) + 256}
	mr := multipart.NewReader(tail, boundary)
	formBytes, fields := 0, 0
	for {
		part, err := mr.NextRawPart() // raw: keep the filename exactly as sent
		if err == io.EOF {
			if !bytes.Contains(tail.buf, []byte("--"+boundary+"--")) {
				return bodyError(io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return bodyError(err)
		}
		name, filename := partNames(part)
		if name == "content" {
			if u.Content != nil {
				return errs.Errorf(errs.Invalid, "httpapi", "The upload has more than one 'content' part: send one file per request.")
			}
			if filename == "" {
				return errs.Errorf(errs.Invalid, "httpapi", "The 'content' part has no filename: send the distribution as a file.")
			}
			if err := s.readContent(r, part, u); err != nil {
				return err
			}
			u.Filename = filename
			continue
		}
		if filename != "" && name != "gpg_signature" && name != "attestations" {
			return errs.Errorf(errs.Invalid, "httpapi", "%s: Should not be a tuple.", name)
		}
		fields++
		if fields > maxFormFields {
			return errs.Errorf(errs.TooLarge, "httpapi", "The upload form has more than %d fields.", maxFormFields)
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return bodyError(err)
		}
		if len(b) > maxFieldBytes {
			return errs.Errorf(errs.TooLarge, "httpapi", "The form field '%s' is larger than %s.", name, registry.FormatBytes(maxFieldBytes))
		}
		if formBytes += len(b); formBytes > maxFormBytes {
			return errs.Errorf(errs.TooLarge, "httpapi", "The upload form's fields are larger than %s in total.", registry.FormatBytes(maxFormBytes))
		}
		switch name {
		case "gpg_signature":
			continue // accepted and ignored: PyPI no longer serves signatures
		case "attestations":
			u.Attestations = b // checked and kept with the file by hosted
			continue
		}
		u.Fields[name] = append(u.Fields[name], string(b))
	}
}

func (s *Server) readContent(r *http.Request, part *multipart.Part, u *hosted.Upload) error {
	t, err := s.cfg.Blobs.Create(r.Context())
	if err != nil {
		return err
	}
	u.Content = t
	// md5 always, although twine 7 no longer sends md5_digest: the JSON
	// API lists every file's md5, as PyPI's does.
	hashes := []hash.Hash{}
	var md, b2 hash.Hash
	md = md5.New()
	hashes = append(hashes, md)
	b2, _ = blake2b.New256(nil)
	hashes = append(hashes, b2)
	ws := make([]io.Writer, 0, len(hashes)+1)
	for _, h := range hashes {
		ws = append(ws, h)
	}
	ws = append(ws, t)
	dst := io.MultiWriter(ws...)
	var src io.Reader = part
	if s.cfg.MaxFileSize > 0 {
		src = io.LimitReader(part, s.cfg.MaxFileSize+1)
	}
	body := &readErrs{r: src}
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(dst, body, buf)
	if err != nil {
		if body.err == nil {
			// Storing failed (a full disk, say): the server's fault,
			// classified by the blob store, never "upload again".
			return err
		}
		return bodyError(err)
	}
	if s.cfg.MaxFileSize > 0 && n > s.cfg.MaxFileSize {
		return errs.Errorf(errs.TooLarge, "httpapi", "File too large. The limit for one file is %s.", registry.FormatBytes(s.cfg.MaxFileSize))
	}
	u.BLAKE2b256 = hex.EncodeToString(b2.Sum(nil))
	if md != nil {
		u.MD5 = hex.EncodeToString(md.Sum(nil))
	}
	return nil
}

// readErrs remembers the error its reader returned, so a copy's failure
// can be told apart: reading the client's body, or writing to storage.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// tailReader remembers the last bytes read through it.
type tailReader struct {
	r    io.Reader
	keep int
	buf  []byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= t.keep {
		t.buf = append(t.buf[:0], p[n-t.keep:n]...)
	} else if n > 0 {
		t.buf = append(t.buf, p[:n]...)
		if over := len(t.buf) - t.keep; over > 0 {
			t.buf = append(t.buf[:0], t.buf[over:]...)
		}
	}
	return n, err
}

// completeDigests computes md5 after the fact when the client sent
// md5_digest after the file part.
func completeDigests(u *hosted.Upload) error {
	if u.MD5 != "" || firstField(u.Fields, "md5_digest") == "" || u.Content == nil {
		return nil
	}
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(u.Content, 0, u.Content.Size())); err != nil {
		return err
	}
	u.MD5 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// partNames reads the form name and the raw filename of a part.
// multipart.Part.FileName applies filepath.Base, which would turn
// "../x.whl" into "x.whl" and hide the attack from the checks.
func partNames(p *multipart.Part) (name, filename string) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FormName(), ""
	}
	return params["name"], params["filename"]
}

// bodyError classifies a failure to read the request body: a cut
// connection, a Content-Length that lies or a broken multipart framing all
// mean the client must send the file again.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	var slow *errSlowBody
	if errors.As(err, &mbe) || errors.As(err, &slow) {
		return err
	}
	return errs.E(errs.Invalid, "httpapi", fmt.Errorf("The upload body is truncated or malformed (%v): upload the file again.", err))
}
