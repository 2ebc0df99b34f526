package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/wharf-dev/wharf/internal/blob"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
	"github.com/wharf-dev/wharf/internal/upstream"
)

// Open implements registry.Index. A file is fetched from the upstream on
// its first download, verified against the upstream's sha256 while it
// streams into a blob temp, and served from the blob store ever after.
func (s *Service) Open(ctx context.Context, repo registry.Repository, sha256, filename string, metadata bool) (registry.Download, error) {
	rf, err := s.cfg.Store.Remote().File(ctx, repo.ID, sha256)
	if err == nil && rf.Filename != filename {
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
	project := ""
	if d, err := pypi.ParseFilename(filename); err == nil {
		project = d.Project()
	}
	if age := set.MinReleaseAge; age > 0 && !slices.Contains(set.CooldownExceptions, project) &&
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
	if errors.Is(err, blob.ErrNotFound) {
		ch := s.group.DoChan("file\x00"+key, func() (any, error) {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FileTimeout)
			defer cancel()
			return nil, s.fetchFileShared(fctx, repo, set, key, src, filename)
		})
		select {
		case r := <-ch:
			if r.Err != nil {
				return registry.Download{}, r.Err
			}
		case <-ctx.Done():
			return registry.Download{}, errs.E(errs.Unavailable, "remote", ctx.Err())
		}
		obj, err = s.cfg.Blobs.Open(ctx, key)
	}
	if err != nil {
		return registry.Download{}, err
	}
	return registry.Download{Content: obj, Key: key, ModTime: rf.UploadTime}, nil
}

// fetchFileShared is fetchFile under the cross-replica lock of the blob: a
// replica that waited for another's fetch finds the blob stored.
func (s *Service) fetchFileShared(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, key, src, filename string) error {
	if s.locker == nil {
		return s.fetchFile(ctx, repo, set, key, src, filename)
	}
	return s.locker.WithLock(ctx, "wharf/remote/file\x00"+key, func(ctx context.Context) error {
		if _, err := s.cfg.Blobs.Stat(ctx, key); err == nil {
			return nil
		}
		return s.fetchFile(ctx, repo, set, key, src, filename)
	})
}

// fetchFile streams an upstream file into the blob store, refusing it
// (nothing committed) when its sha256 is not the one the upstream's page
// advertised.
func (s *Service) fetchFile(ctx context.Context, repo registry.Repository, set registry.RemoteSettings, key, src, filename string) error {
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
	n, err := io.Copy(tmp, io.LimitReader(body, s.cfg.MaxFileSize+1))
	if err != nil {
		s.fetches.WithLabelValues(repo.Name, "file", "error").Inc()
		return errs.E(errs.Upstream, "remote", fmt.Errorf("downloading '%s' from upstream: %w", filename, err))
	}
	if n > s.cfg.MaxFileSize {
		return errs.Errorf(errs.Upstream, "remote", "upstream file '%s' is over the %d-byte limit", filename, s.cfg.MaxFileSize)
	}
	if got := tmp.SHA256(); got != key {
		s.fetches.WithLabelValues(repo.Name, "file", "hash_mismatch").Inc()
		s.log.Error("upstream file does not match its advertised sha256; refused", "repo", repo.Name, "filename", filename, "want", key, "got", got)
		return errs.Public(errs.Errorf(errs.Upstream, "remote", "upstream file '%s' does not match the sha256 its index advertised (want %s, got %s): refused, nothing cached", filename, key, got),
			fmt.Sprintf("the upstream's copy of '%s' does not match the sha256 its index advertised: refused, nothing cached", filename))
	}
	if _, err := tmp.Commit(ctx); err != nil {
		return err
	}
	s.fetches.WithLabelValues(repo.Name, "file", "ok").Inc()
	return nil
}
