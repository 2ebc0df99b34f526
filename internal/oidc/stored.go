package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// This file holds the store-backed collaborators of the Exchanger: what
// the composition root used to implement itself. The server only builds
// them.

// TokenMinter creates wharf tokens (auth.Service implements it).
type TokenMinter interface {
	Mint(ctx context.Context, req auth.MintRequest) (string, registry.Token, error)
}

// StoreMinter mints the token of an accepted exchange. A grant from a
// pending publisher first creates its project and turns the publisher into
// a normal one, as PyPI does.
type StoreMinter struct {
	Store  store.Store
	Tokens TokenMinter
	// Changed is told about a repository whose projects changed (the
	// hosted service's page caches); nil: nobody.
	Changed func(repoID int64)
}

// Mint implements Minter.
func (m StoreMinter) Mint(ctx context.Context, req ScopeMint) (string, string, time.Time, error) {
	for _, g := range req.Create {
		if err := m.createPending(ctx, g); err != nil {
			return "", "", time.Time{}, err
		}
	}
	desc := req.Purpose
	for _, k := range []string{"repository", "project_path", "workflow_ref", "sub", "ref"} {
		if v, ok := req.Claims[k].(string); ok && v != "" {
			desc += " " + k + "=" + v
		}
	}
	if len(desc) > 180 {
		desc = desc[:180]
	}
	secret, tok, err := m.Tokens.Mint(ctx, auth.MintRequest{Scope: req.Scope, Description: desc, TTL: req.TTL, Origin: req.Origin})
	if err != nil {
		return "", "", time.Time{}, err
	}
	return secret, tok.ID, tok.ExpiresAt, nil
}

func (m StoreMinter) createPending(ctx context.Context, g Grant) error {
	repo, err := m.Store.Repos().Get(ctx, g.Repo)
	if err != nil {
		return fmt.Errorf("pending publisher %d: %w", g.PublisherID, err)
	}
	err = m.Store.InTx(ctx, func(tx store.Store) error {
		if _, _, err := tx.Projects().Ensure(ctx, registry.Project{RepoID: repo.ID, Name: g.Project, DisplayName: g.Project}); err != nil {
			return err
		}
		return tx.Publishers().Reify(ctx, g.PublisherID)
	})
	if err == nil && m.Changed != nil {
		m.Changed(repo.ID)
	}
	return err
}

// StoreProjects answers whether a pending publisher's project exists.
type StoreProjects struct{ Store store.Store }

// ProjectExists implements ProjectChecker.
func (p StoreProjects) ProjectExists(ctx context.Context, repoName, project string) (bool, error) {
	repo, err := p.Store.Repos().Get(ctx, repoName)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = p.Store.Projects().Get(ctx, repo.ID, project)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// StoreAuditor writes exchanges to the audit log.
type StoreAuditor struct {
	Audit  store.Audit
	Logger *slog.Logger
}

// Record implements Auditor.
func (a StoreAuditor) Record(ctx context.Context, e Exchange) {
	detail := map[string]string{"issuer": e.Issuer}
	for k, v := range e.Claims {
		detail[k] = v
	}
	for k, v := range map[string]string{"code": e.Code, "reason": e.Reason, "description": e.Description, "scope": e.Scope} {
		if v != "" {
			detail[k] = v
		}
	}
	if e.Suppressed > 0 {
		detail["suppressed"] = fmt.Sprint(e.Suppressed)
	}
	ev := registry.AuditEvent{
		Time: e.Time, Actor: "oidc:" + e.IssuerName, Action: cmpOr(e.Action, "oidc.mint"), Outcome: e.Outcome,
		Target: e.TokenID, Detail: detail,
	}
	if len(e.Grants) > 0 {
		ev.Repo, ev.Project = e.Grants[0].Repo, e.Grants[0].Project
		var gs []string
		for _, g := range e.Grants {
			gs = append(gs, g.Repo+"/"+g.Project)
		}
		detail["grants"] = strings.Join(gs, ",")
		// Files uploaded with the token name their publishers (provenance).
		var ps []string
		for _, g := range e.Grants {
			if g.PublisherID != 0 {
				ps = append(ps, fmt.Sprint(g.PublisherID))
			}
		}
		if len(ps) > 0 {
			detail["publishers"] = strings.Join(ps, ",")
		}
	}
	if err := a.Audit.Append(context.WithoutCancel(ctx), ev); err != nil && a.Logger != nil {
		a.Logger.ErrorContext(ctx, "writing the audit log failed", "action", ev.Action, "error", err)
	}
}

// PolicyCacheTTL bounds how long a policy changed on another replica is
// not seen here; changes made through this replica apply at once (Changed).
const PolicyCacheTTL = 5 * time.Second

// PolicyFromRecord decodes a stored policy.
func PolicyFromRecord(rec store.PolicyRecord) (Policy, error) {
	var pol Policy
	if err := json.Unmarshal(rec.Config, &pol); err != nil {
		return pol, err
	}
	pol.ID, pol.Name, pol.CreatedAt, pol.CreatedBy = rec.ID, rec.Name, rec.CreatedAt, rec.CreatedBy
	return pol, nil
}

// storePolicies serves trust policies from the store, compiled and cached
// for PolicyCacheTTL.
type storePolicies struct {
	store   store.Policies
	issuers []IssuerInfo
	cel     *CEL
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	set    *PolicySet
	loaded time.Time
}

func (p *storePolicies) Changed() {
	p.mu.Lock()
	p.set = nil
	p.mu.Unlock()
}

// Policies implements PolicySource. A stored policy that no longer decodes
// or compiles is skipped and logged rather than failing every exchange.
func (p *storePolicies) Policies(ctx context.Context) (*PolicySet, error) {
	p.mu.Lock()
	if p.set != nil && p.now().Sub(p.loaded) < PolicyCacheTTL {
		set := p.set
		p.mu.Unlock()
		return set, nil
	}
	p.mu.Unlock()
	recs, err := p.store.List(ctx)
	if err != nil {
		return nil, err
	}
	ps := make([]Policy, 0, len(recs))
	for _, rec := range recs {
		pol, err := PolicyFromRecord(rec)
		if err != nil {
			// It may be a deny policy, and a deny that cannot be evaluated
			// denies: keep it as one unless it says it is an allow.
			var head struct{ Effect string }
			if json.Unmarshal(rec.Config, &head) == nil && head.Effect == EffectAllow {
				p.log.ErrorContext(ctx, "stored trust policy does not decode; skipped", "policy", rec.Name, "error", err)
				continue
			}
			p.log.ErrorContext(ctx, "stored trust policy does not decode; it denies every token of its issuer until fixed", "policy", rec.Name, "error", err)
			pol = Policy{ID: rec.ID, Name: rec.Name, Issuer: rec.Issuer, Effect: EffectDeny, unreadable: true}
		}
		ps = append(ps, pol)
	}
	set, skipped, err := NewPolicySet(ps, p.issuers, p.cel)
	if err != nil {
		return nil, err
	}
	for _, name := range skipped {
		p.log.WarnContext(ctx, "trust policy skipped: its issuer is not configured, or it is an allow policy whose condition does not compile", "policy", name)
	}
	p.mu.Lock()
	p.set, p.loaded = set, p.now()
	p.mu.Unlock()
	return set, nil
}
