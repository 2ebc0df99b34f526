package hosted

import (
	"context"
	"errors"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Target names what a management action applies to. Version and Filename
// narrow it: a project, a release, or one file.
type Target struct {
	Repo     registry.Repository
	Project  string // any spelling; normalised here
	Version  string // optional
	Filename string // optional; requires Version
	Reason   string // yank reason
	Actor    string
}

func (s *Service) project(ctx context.Context, repoID int64, name string) (registry.Project, error) {
	p, err := s.store.Projects().Get(ctx, repoID, pypi.Normalize(name))
	if errors.Is(err, store.ErrNotFound) {
		return p, errs.Errorf(errs.NotFound, "hosted", "project '%s' does not exist", name)
	}
	return p, err
}

func releaseKey(version string) (string, error) {
	v, err := pypi.ParseVersion(version)
	if err != nil {
		return "", errs.Errorf(errs.Invalid, "hosted", "'%s' is not a PEP 440 version", version)
	}
	return v.Canonical(), nil
}

// SetYanked yanks (PEP 592) or unyanks every file of a release.
func (s *Service) SetYanked(ctx context.Context, t Target, yanked bool) (int, error) {
	p, err := s.project(ctx, t.Repo.ID, t.Project)
	if err != nil {
		return 0, err
	}
	rel, err := releaseKey(t.Version)
	if err != nil {
		return 0, err
	}
	action := "release.yank"
	if !yanked {
		action, t.Reason = "release.unyank", ""
	}
	var n int
	err = s.store.InTx(ctx, func(tx store.Store) error {
		if n, err = tx.Files().SetYanked(ctx, p.ID, rel, yanked, t.Reason); err != nil {
			return err
		}
		if n == 0 {
			return errs.Errorf(errs.NotFound, "hosted", "project '%s' has no release '%s'", p.Name, t.Version)
		}
		return tx.Audit().Append(ctx, registry.AuditEvent{
			Time: s.now().UTC(), Actor: t.Actor, Action: action, Repo: t.Repo.Name,
			Project: p.Name, Target: t.Version, Outcome: "ok",
			Detail: map[string]string{"reason": t.Reason, "actor": s.ActorDescription(ctx, t.Actor)},
		})
	})
	if err == nil {
		s.Changed(t.Repo.ID)
	}
	return n, err
}

// Delete removes a project, a release or one file. Deleted filenames can
// never be uploaded again. Blobs are left for the orphan sweep, since
// another repository may share them.
func (s *Service) Delete(ctx context.Context, t Target) (int, error) {
	p, err := s.project(ctx, t.Repo.ID, t.Project)
	if err != nil {
		return 0, err
	}
	var rel string
	if t.Version != "" {
		if rel, err = releaseKey(t.Version); err != nil {
			return 0, err
		}
	}
	var deleted int
	err = s.store.InTx(ctx, func(tx store.Store) error {
		files, err := tx.Files().ListByProject(ctx, p.ID)
		if err != nil {
			return err
		}
		action, target := "project.delete", ""
		switch {
		case t.Filename != "":
			action, target = "file.delete", t.Filename
		case rel != "":
			action, target = "release.delete", t.Version
		}
		for _, f := range files {
			if rel != "" && f.Release != rel || t.Filename != "" && f.Filename != t.Filename {
				continue
			}
			if err := tx.Files().Delete(ctx, f.ID); err != nil {
				return err
			}
			deleted++
		}
		if action == "project.delete" {
			if err := tx.Projects().Delete(ctx, p.ID); err != nil {
				return err
			}
		} else if deleted == 0 {
			return errs.Errorf(errs.NotFound, "hosted", "nothing matches %s in project '%s'", target, p.Name)
		}
		return tx.Audit().Append(ctx, registry.AuditEvent{
			Time: s.now().UTC(), Actor: t.Actor, Action: action, Repo: t.Repo.Name,
			Project: p.Name, Target: target, Outcome: "ok",
			Detail: map[string]string{"actor": s.ActorDescription(ctx, t.Actor)},
		})
	})
	if err == nil {
		s.Changed(t.Repo.ID)
	}
	return deleted, err
}
