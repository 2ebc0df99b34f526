package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// newExchanger builds trusted publishing from the configuration. extra
// issuers (the development issuer) are added to the configured ones. It
// returns nil when no issuer is configured: the endpoints then answer
// PyPI's "not enabled".
func (s *Server) newExchanger(extra []oidc.IssuerConfig, now func() time.Time) (*oidc.Exchanger, error) {
	issuers := extra
	for _, is := range s.cfg.OIDC.Issuers {
		issuers = append(issuers, oidc.IssuerConfig{Name: is.Name, URL: is.URL, Kind: is.Kind})
	}
	if len(issuers) == 0 {
		return nil, nil
	}
	return oidc.New(oidc.Config{
		Audience: s.cfg.OIDC.Audience,
		Issuers:  issuers,
		Logger:   s.log,
		Metrics:  s.reg,
		Now:      now,
	}, oidc.Deps{
		Publishers: oidc.StorePublishers{Store: s.Store.Publishers()},
		Replay:     s.Store.Replay(),
		Minter:     oidcMinter{s},
		Auditor:    oidcAuditor{s},
		Projects:   oidcProjects{s},
		TokenTTL:   s.cfg.Tokens.OIDCTTL,
	})
}

// declarePublishers creates the publishers the configuration declares,
// unless an identical one exists.
func (s *Server) declarePublishers(ctx context.Context) error {
	for i, d := range s.cfg.OIDC.Publishers {
		p := publisherFromConfig(d)
		p.SetDefaults()
		if err := p.Validate(); err != nil {
			return fmt.Errorf("oidc.publishers[%d]: %w", i, err)
		}
		rec, err := p.Record()
		if err != nil {
			return err
		}
		existing, err := s.Store.Publishers().List(ctx, p.Repo, p.Project)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(existing, func(e registry.PublisherRecord) bool {
			return e.Kind == rec.Kind && e.Issuer == rec.Issuer && string(e.Config) == string(rec.Config)
		}) {
			continue
		}
		rec.CreatedBy = "config"
		if err := s.Store.Publishers().Create(ctx, &rec); err != nil {
			return fmt.Errorf("oidc.publishers[%d]: %w", i, err)
		}
		s.log.Info("trusted publisher declared", "repo", p.Repo, "project", p.Project, "kind", p.Kind, "issuer", rec.Issuer)
	}
	return nil
}

func publisherFromConfig(d config.Publisher) oidc.Publisher {
	p := oidc.Publisher{Repo: d.Repo, Project: strings.ToLower(d.Project), Pending: d.Pending}
	switch {
	case d.GitHub != nil:
		g := d.GitHub
		p.Kind, p.GitHub = oidc.KindGitHub, &oidc.GitHubPublisher{
			Issuer: g.Issuer, Owner: g.Owner, OwnerID: g.OwnerID, Repository: g.Repository,
			RepositoryID: g.RepositoryID, Workflow: g.Workflow, Environment: g.Environment,
			JobWorkflowRef: g.JobWorkflowRef, AllowedEvents: g.AllowedEvents,
		}
	case d.GitLab != nil:
		g := d.GitLab
		p.Kind, p.GitLab = oidc.KindGitLab, &oidc.GitLabPublisher{
			Issuer: g.Issuer, Namespace: g.Namespace, NamespaceID: g.NamespaceID, Project: g.Project,
			CIFilePath: g.CIFilePath, Environment: g.Environment,
		}
	case d.Generic != nil:
		p.Kind, p.Generic = oidc.KindGeneric, &oidc.GenericPublisher{Issuer: d.Generic.Issuer, Claims: d.Generic.Claims}
	}
	return p
}

// oidcMinter mints the upload token of an accepted exchange. A grant from
// a pending publisher first creates its project and turns the publisher
// into a normal one, as PyPI does.
type oidcMinter struct{ s *Server }

func (m oidcMinter) MintUpload(ctx context.Context, grants []oidc.Grant, ttl time.Duration, origin string, claims map[string]any) (string, string, time.Time, error) {
	s := m.s
	scope := registry.Scope{Actions: []registry.Action{registry.Upload}}
	for _, g := range grants {
		if g.Create {
			if err := s.createPending(ctx, g); err != nil {
				return "", "", time.Time{}, err
			}
		}
		scope.Repos = append(scope.Repos, g.Repo)
		scope.Projects = append(scope.Projects, g.Project)
		scope.Bindings = append(scope.Bindings, registry.Binding{Repo: g.Repo, Project: g.Project})
	}
	desc := "trusted publishing"
	for _, k := range []string{"repository", "project_path", "workflow_ref", "ref"} {
		if v, ok := claims[k].(string); ok && v != "" {
			desc += " " + k + "=" + v
		}
	}
	secret, tok, err := s.Auth.Mint(ctx, auth.MintRequest{Scope: scope, Description: desc, TTL: ttl, Origin: origin})
	if err != nil {
		return "", "", time.Time{}, err
	}
	return secret, tok.ID, tok.ExpiresAt, nil
}

func (s *Server) createPending(ctx context.Context, g oidc.Grant) error {
	repo, err := s.Store.Repos().Get(ctx, g.Repo)
	if err != nil {
		return fmt.Errorf("pending publisher %d: %w", g.PublisherID, err)
	}
	err = s.Store.InTx(ctx, func(tx store.Store) error {
		if _, _, err := tx.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: g.Project, DisplayName: g.Project}); err != nil {
			return err
		}
		return tx.Publishers().Reify(ctx, g.PublisherID)
	})
	if err == nil {
		s.Hosted.Changed(repo.ID)
	}
	return err
}

// oidcProjects answers whether a pending publisher's project exists.
type oidcProjects struct{ s *Server }

func (p oidcProjects) ProjectExists(ctx context.Context, repoName, project string) (bool, error) {
	repo, err := p.s.Store.Repos().Get(ctx, repoName)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = p.s.Store.Projects().Get(ctx, repo.ID, project)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// oidcAuditor writes every exchange, accepted or refused, to the audit log.
type oidcAuditor struct{ s *Server }

func (a oidcAuditor) Record(ctx context.Context, e oidc.Exchange) {
	detail := map[string]string{"issuer": e.Issuer}
	for k, v := range e.Claims {
		detail[k] = v
	}
	for k, v := range map[string]string{"code": e.Code, "reason": e.Reason, "description": e.Description} {
		if v != "" {
			detail[k] = v
		}
	}
	ev := registry.AuditEvent{
		Time: e.Time, Actor: "oidc:" + e.IssuerName, Action: "oidc.mint", Outcome: e.Outcome,
		Target: e.TokenID, Detail: detail,
	}
	if len(e.Grants) > 0 {
		ev.Repo, ev.Project = e.Grants[0].Repo, e.Grants[0].Project
		var gs []string
		for _, g := range e.Grants {
			gs = append(gs, g.Repo+"/"+g.Project)
		}
		detail["grants"] = strings.Join(gs, ",")
	}
	if err := a.s.Store.Audit().Append(context.WithoutCancel(ctx), ev); err != nil {
		a.s.log.Error("writing the audit log failed", "action", ev.Action, "error", err)
	}
}
