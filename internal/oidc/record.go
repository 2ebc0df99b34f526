package oidc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Record is the stored form of p: the kind-specific block as JSON.
func (p Publisher) Record() (registry.PublisherRecord, error) {
	p.SetDefaults()
	var block any
	switch {
	case p.GitHub != nil:
		block = p.GitHub
	case p.GitLab != nil:
		block = p.GitLab
	case p.Generic != nil:
		block = p.Generic
	}
	cfg, err := json.Marshal(block)
	if err != nil {
		return registry.PublisherRecord{}, err
	}
	return registry.PublisherRecord{
		ID: p.ID, Repo: p.Repo, Project: p.Project, Pending: p.Pending, Kind: p.Kind,
		Issuer: p.IssuerURL(), Config: cfg, CreatedAt: p.CreatedAt,
	}, nil
}

// FromRecord rebuilds a publisher from its stored form.
func FromRecord(r registry.PublisherRecord) (Publisher, error) {
	p := Publisher{ID: r.ID, Repo: r.Repo, Project: r.Project, Pending: r.Pending, Kind: r.Kind, CreatedAt: r.CreatedAt}
	var block any
	switch r.Kind {
	case KindGitHub:
		p.GitHub = &GitHubPublisher{}
		block = p.GitHub
	case KindGitLab:
		p.GitLab = &GitLabPublisher{}
		block = p.GitLab
	case KindGeneric:
		p.Generic = &GenericPublisher{}
		block = p.Generic
	default:
		return p, fmt.Errorf("publisher %d: unknown kind %q", r.ID, r.Kind)
	}
	if err := json.Unmarshal(r.Config, block); err != nil {
		return p, fmt.Errorf("publisher %d: %w", r.ID, err)
	}
	return p, nil
}

// StorePublishers serves publishers from the metadata store.
type StorePublishers struct{ Store store.Publishers }

// ForIssuer implements PublisherSource. A record that no longer decodes is
// skipped rather than failing every exchange of the issuer.
func (s StorePublishers) ForIssuer(ctx context.Context, issuerURL string) ([]Publisher, error) {
	recs, err := s.Store.ForIssuer(ctx, issuerURL)
	if err != nil {
		return nil, err
	}
	out := make([]Publisher, 0, len(recs))
	for _, r := range recs {
		if p, err := FromRecord(r); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}
