package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// Open implements registry.Index. A file is fetched from the upstream on
// its first download, verified against the upstream's sha256 and served
// from the blob store ever after. Clients asking for it while it is first
// fetched all read it as it arrives (see fill), so a slow upstream does not
// make them wait for the whole file before the first byte.
func (s *Service) Open(ctx context.Context, repo registry.Repository, sha256, filename string, metadata bool) (registry.Download, error) {
	rf, err := s.cfg.Store.Remote().File(ctx, repo.ID, sha256)
	if err == nil && (rf.Filename != filename || !registry.ReaderFrom(ctx).CanReadProject(repo, rf.Project)) {
		// Another file's bytes, or a file of a project the caller may not
		// read (as the page that listed it says, never the URL): absent.
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return registry.Download{}, errs.Errorf(errs.NotFound, "remote", "file '%s' not found in repository '%s': open its project page first", filename, repo.Name)
	}
	if err != nil {
		return registry.Download{}, err
	}
	set, _, err := s.Settings(ctx, repo)
	if err != nil {
		return registry.Download{}, err
	}
	if age := set.MinReleaseAge; age > 0 && (rf.Project == "" || !slices.Contains(set.CooldownExceptions, rf.Project)) &&
		s.cfg.Now().Before(rf.UploadTime.Add(age.D())) {
		return registry.Download{}, errs.Errorf(errs.NotFound, "remote",
			"file '%s' is in cooldown in repository '%s' until %s (min_release_age %s)", filename, repo.Name,
			rf.UploadTime.Add(age.D()).UTC().Format("2006-01-02T15:04:05Z"), age.D())
	}
	key, src := rf.SHA256, rf.URL
	if metadata {
		if rf.MetadataSHA256 == "" {
			return registry.Download{}, errs.Errorf(errs.NotFound, "remote", "no core metadata is available for '%s'", filename)
		}
		key, src = rf.MetadataSHA256, rf.URL+".metadata"
	}
	obj, err := s.cfg.Blobs.Open(ctx, key)
	if err == nil {
		return registry.Download{Content: obj, Key: key, ModTime: rf.UploadTime, Project: rf.Project}, nil
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return registry.Download{}, err
	}
	f, err := s.joinFill(ctx, repo, set, key, src, filename)
	if err != nil {
		return registry.Download{}, err
	}
	inStore, err := f.waitStarted(ctx)
	if err != nil || inStore {
		f.release()
		if err != nil {
			return registry.Download{}, err
		}
		obj, err := s.cfg.Blobs.Open(ctx, key)
		if err != nil {
			return registry.Download{}, err
		}
		return registry.Download{Content: obj, Key: key, ModTime: rf.UploadTime, Project: rf.Project}, nil
	}
	return registry.Download{Content: &fillReader{f: f, ctx: ctx}, Key: key, ModTime: rf.UploadTime, Unsized: f.size < 0, Project: rf.Project}, nil
}

// fileKey is the backoff key of a file fetch (no project name holds NUL).
func fileKey(repo int64, key string) entryKey { return entryKey{repo, "\x00file " + key} }

// joinFill returns the running fill of key, or starts one, with a
// reference for the caller. A file whose last fetch failed within the
// backoff (or whose repository's credentials were refused) is not fetched
// again: the failure is answered.
func (s *Service) joinFill(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, key, src, filename string) (*fill, error) {
	if f := s.runningFill(key); f != nil {
		return f, nil
	}
	if fl, ok := s.backingOff(ctx, repo, set, fileKey(repo.ID, key), s.cfg.Now()); ok {
		return nil, fl.err
	}
	s.mu.Lock()
	f := s.fills[key]
	if f != nil {
		f.hold()
		s.mu.Unlock()
		return f, nil
	}
	f = newFill()
	f.refs = 2 // the fetch's and the caller's
	s.fills[key] = f
	s.mu.Unlock()
	// The fetch runs on a context the client cannot cancel: a disconnect
	// must not waste the fill for everyone else.
	go s.runFill(context.WithoutCancel(ctx), f, repo, set, key, src, filename)
	return f, nil
}

func (s *Service) runningFill(key string) *fill {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fills[key]
	if f != nil {
		f.hold()
	}
	return f
}

// runFill fetches the file, then takes the fill out of the map: later
// requests find the blob stored, or start afresh after a failure.
func (s *Service) runFill(ctx context.Context, f *fill, repo registry.Repository, set registry.RemoteSettings, key, src, filename string) {
	err := s.fetchFileShared(ctx, repo, set, f, key, src, filename)
	s.noteOutcome(repo, fileKey(repo.ID, key), err)
	f.finish(err)
	s.mu.Lock()
	delete(s.fills, key)
	s.mu.Unlock()
	f.release()
}

// fetchFileShared is fetchFile under the cross-replica lock of the blob: a
// replica that waited for another's fetch finds the blob stored. (Its
// clients wait for that fetch; only the fetching replica's stream.)
func (s *Service) fetchFileShared(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, f *fill, key, src, filename string) error {
	if s.locker == nil {
		return s.fetchFile(ctx, repo, set, f, key, src, filename)
	}
	return s.locker.WithLock(ctx, "wharf/remote/file\x00"+key, func(ctx context.Context) error {
		if _, err := s.cfg.Blobs.Stat(ctx, key); err == nil {
			f.markStored()
			return nil
		}
		return s.fetchFile(ctx, repo, set, f, key, src, filename)
	})
}

// fillChunk is the size of the reads from the upstream.
const fillChunk = 256 << 10

// fetchFile streams an upstream file into a blob temp and the fill's
// spool at once, refusing it (nothing committed, clients cut off before
// the last byte) when its sha256 is not the one the upstream's page
// advertised.
func (s *Service) fetchFile(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, f *fill, key, src, filename string) error {
	body, size, err := s.cfg.Upstream.Open(ctx, upstream.Target{Repo: repo.Name, Settings: set}, src)
	if err != nil {
		s.fetches.WithLabelValues(repo.Name, "file", "error").Inc()
		return err
	}
	defer body.Close()
	if size > s.cfg.MaxFileSize {
		return errs.Errorf(errs.Upstream, "remote", "upstream file '%s' is %d bytes, over the %d-byte limit", filename, size, s.cfg.MaxFileSize)
	}
	tmp, err := s.cfg.Blobs.Create(ctx)
	if err != nil {
		return err
	}
	defer tmp.Abort()
	spool, err := os.CreateTemp(s.cfg.SpoolDir, "wharf-fill-*")
	if err != nil {
		return blob.DiskError(errs.Unavailable, "remote", fmt.Errorf("spool file: %w", err))
	}
	// Unlinked at once: the descriptor keeps the data while clients read
	// it, and a crash leaves nothing behind.
	os.Remove(spool.Name())
	f.start(size, spool)
	buf := make([]byte, fillChunk)
	var n int64
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			if n+int64(m) > s.cfg.MaxFileSize {
				return errs.Errorf(errs.Upstream, "remote", "upstream file '%s' is over the %d-byte limit", filename, s.cfg.MaxFileSize)
			}
			if _, err := spool.WriteAt(buf[:m], n); err != nil {
				return blob.DiskError(errs.Unavailable, "remote", fmt.Errorf("spool file: %w", err))
			}
			if _, err := tmp.Write(buf[:m]); err != nil {
				return err
			}
			n += int64(m)
			f.advance(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.fetches.WithLabelValues(repo.Name, "file", "error").Inc()
			return errs.E(errs.KindOf(rerr), "remote", fmt.Errorf("downloading '%s' from upstream: %w", filename, rerr))
		}
	}
	if got := tmp.SHA256(); got != key {
		s.fetches.WithLabelValues(repo.Name, "file", "hash_mismatch").Inc()
		s.log.Error("upstream file does not match its advertised sha256; refused", "repo", repo.Name, "filename", filename, "want", key, "got", got)
		return errs.Public(errs.Errorf(errs.Upstream, "remote", "upstream file '%s' does not match the sha256 its index advertised (want %s, got %s): refused, nothing cached", filename, key, got),
			fmt.Sprintf("the upstream's copy of '%s' does not match the sha256 its index advertised: refused, nothing cached", filename))
	}
	// Verified: the clients may have the last byte, even if storing the
	// file fails below (the next request then fetches it again).
	f.finish(nil)
	if _, err := tmp.Commit(ctx); err != nil {
		return err
	}
	s.fetches.WithLabelValues(repo.Name, "file", "ok").Inc()
	return nil
}
