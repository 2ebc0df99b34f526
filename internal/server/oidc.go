package server

import (
	"context"
	"fmt"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/oidc"
)

// newExchanger builds trusted publishing from the configuration. The
// options' extra issuers (the development issuer) are added to the
// configured ones. It returns nil when no issuer is configured: the
// endpoints then answer PyPI's "not enabled".
func (s *Server) newExchanger(o Options) (*oidc.Exchanger, error) {
	issuers := o.ExtraIssuers
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
		Now:      o.Now,
		Sleep:    o.Sleep,
	}, oidc.Deps{
		Publishers:  oidc.StorePublishers{Store: s.Store.Publishers()},
		Replay:      s.Store.Replay(),
		Minter:      oidc.StoreMinter{Store: s.Store, Tokens: s.Auth, Changed: s.Hosted.Changed},
		Auditor:     oidc.StoreAuditor{Audit: s.Store.Audit(), Logger: s.log},
		Projects:    oidc.StoreProjects{Store: s.Store},
		PolicyStore: s.Store.Policies(),
		TokenTTL:    s.cfg.Tokens.OIDCTTL,
	})
}

// declarePublishers creates the publishers the configuration declares,
// unless an identical one exists.
func (s *Server) declarePublishers(ctx context.Context) error {
	for i, d := range s.cfg.OIDC.Publishers {
		// The admin API's write path: checked, stored and audited alike.
		if err := s.Publishers.Declare(ctx, publisherFromConfig(d)); err != nil {
			return fmt.Errorf("oidc.publishers[%d]: %w", i, err)
		}
	}
	return nil
}

// issuers are the issuers trusted publishing trusts (none when it is off).
func (s *Server) issuers() []oidc.IssuerInfo {
	if s.Exchanger == nil {
		return nil
	}
	return s.Exchanger.Issuers()
}

func publisherFromConfig(d config.Publisher) oidc.Publisher {
	p := oidc.Publisher{Repo: d.Repo, Project: d.Project, Pending: d.Pending} // normalised by the service
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
