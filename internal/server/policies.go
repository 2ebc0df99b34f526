package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// policyCacheTTL bounds how long a policy changed on another replica is
// not seen here; changes made through this replica apply at once.
const policyCacheTTL = 5 * time.Second

// policies serves trust policies from the store, compiled and cached, and
// is the admin API's PolicyService.
type policies struct {
	s   *Server
	x   *oidc.Exchanger
	cel *oidc.CEL

	mu     sync.Mutex
	set    *oidc.PolicySet
	loaded time.Time
}

// enablePolicies wires trust policies and the RFC 8693 exchange into the
// exchanger. It returns nil when trusted publishing is off.
func (s *Server) enablePolicies() (adminapi.PolicyService, error) {
	if s.Exchanger == nil {
		return nil, nil
	}
	env, err := oidc.NewCEL()
	if err != nil {
		return nil, fmt.Errorf("CEL: %w", err)
	}
	p := &policies{s: s, x: s.Exchanger, cel: env}
	s.Exchanger.EnablePolicies(p, scopedMinter{s})
	return p, nil
}

func (p *policies) Issuers() []oidc.IssuerInfo { return p.x.Issuers() }
func (p *policies) Audience() string           { return p.x.Audience() }
func (p *policies) CEL() *oidc.CEL             { return p.cel }

func (p *policies) Changed() {
	p.mu.Lock()
	p.set = nil
	p.mu.Unlock()
}

func (p *policies) Verify(ctx context.Context, raw string) (oidc.Claims, error) {
	return p.x.Verifier().Verify(ctx, raw)
}

func (p *policies) Exchange(ctx context.Context, req oidc.ExchangeRequest) (oidc.MintResult, error) {
	return p.x.Exchange(ctx, req)
}

// Policies implements oidc.PolicySource. A stored policy that no longer
// decodes or compiles is skipped and logged rather than failing every
// exchange.
func (p *policies) Policies(ctx context.Context) (*oidc.PolicySet, error) {
	p.mu.Lock()
	if p.set != nil && time.Since(p.loaded) < policyCacheTTL {
		set := p.set
		p.mu.Unlock()
		return set, nil
	}
	p.mu.Unlock()
	recs, err := p.s.Store.Policies().List(ctx)
	if err != nil {
		return nil, err
	}
	ps := make([]oidc.Policy, 0, len(recs))
	for _, rec := range recs {
		pol, err := adminapi.FromPolicyRecord(rec)
		if err != nil {
			p.s.log.Error("stored trust policy does not decode; skipped", "policy", rec.Name, "error", err)
			continue
		}
		if pol.Condition != "" {
			if _, err := p.cel.Compile(pol.Condition); err != nil {
				p.s.log.Error("stored trust policy does not compile; skipped", "policy", rec.Name, "error", err)
				continue
			}
		}
		ps = append(ps, pol)
	}
	set, skipped, err := oidc.NewPolicySet(ps, p.x.Issuers(), p.cel)
	if err != nil {
		return nil, err
	}
	for _, name := range skipped {
		p.s.log.Warn("trust policy names an issuer that is not configured; skipped", "policy", name)
	}
	p.mu.Lock()
	p.set, p.loaded = set, time.Now()
	p.mu.Unlock()
	return set, nil
}

// scopedMinter mints the token of an RFC 8693 exchange, creating the
// projects of pending publishers first.
type scopedMinter struct{ s *Server }

func (m scopedMinter) MintScope(ctx context.Context, req oidc.ScopeMint) (string, string, time.Time, error) {
	for _, g := range req.Create {
		if err := m.s.createPending(ctx, g); err != nil {
			return "", "", time.Time{}, err
		}
	}
	desc := "token exchange"
	for _, k := range []string{"repository", "project_path", "sub", "ref"} {
		if v, ok := req.Claims[k].(string); ok && v != "" {
			desc += " " + k + "=" + v
			if len(desc) > 180 {
				desc = desc[:180]
				break
			}
		}
	}
	secret, tok, err := m.s.Auth.Mint(ctx, auth.MintRequest{Scope: req.Scope, Description: desc, TTL: req.TTL, Origin: req.Origin})
	if err != nil {
		return "", "", time.Time{}, err
	}
	return secret, tok.ID, tok.ExpiresAt, nil
}

// declarePolicies creates the trust policies the configuration declares
// (oidc.policies), and replaces a stored policy of the same name whose
// content differs, so the file stays the source of truth for its names.
// Policies created through the API under other names are left alone. A
// declared policy is validated exactly as one sent to the API.
func (s *Server) declarePolicies(ctx context.Context, svc adminapi.PolicyService) error {
	if len(s.cfg.OIDC.Policies) == 0 {
		return nil
	}
	if svc == nil {
		return fmt.Errorf("oidc.policies: no OIDC issuer is configured (add one under oidc.issuers)")
	}
	for i, d := range s.cfg.OIDC.Policies {
		pol := policyFromConfig(d)
		pol.Normalize(svc.Audience())
		lint, err := pol.Validate(svc.Issuers(), svc.Audience(), svc.CEL())
		if err != nil {
			return fmt.Errorf("oidc.policies[%d] (%s): %w", i, d.Name, err)
		}
		for _, w := range lint.Warnings {
			s.log.Warn("declared trust policy", "policy", pol.Name, "warning", w)
		}
		b, err := json.Marshal(pol)
		if err != nil {
			return err
		}
		rec := store.PolicyRecord{Name: pol.Name, Issuer: pol.Issuer, Config: b, CreatedBy: "config"}
		old, err := s.Store.Policies().Get(ctx, pol.Name)
		switch {
		case err == nil && string(old.Config) == string(b):
			continue
		case err == nil:
			err = s.Store.InTx(ctx, func(tx store.Store) error {
				if err := tx.Policies().Delete(ctx, pol.Name); err != nil {
					return err
				}
				return tx.Policies().Create(ctx, &rec)
			})
			if err == nil {
				s.log.Info("declared trust policy replaced", "policy", pol.Name, "was_created_by", old.CreatedBy)
			}
		case errors.Is(err, store.ErrNotFound):
			if err = s.Store.Policies().Create(ctx, &rec); err == nil {
				s.log.Info("trust policy declared", "policy", pol.Name, "issuer", pol.Issuer, "effect", pol.Effect)
			}
		}
		if err != nil {
			return fmt.Errorf("oidc.policies[%d] (%s): %w", i, d.Name, err)
		}
	}
	svc.Changed()
	return nil
}

func policyFromConfig(d config.Policy) oidc.Policy {
	p := oidc.Policy{Name: d.Name, Issuer: d.Issuer, Audience: d.Audience, Effect: d.Effect, Condition: d.Condition, Force: d.Force,
		Grant: oidc.Grants{Repositories: d.Grant.Repositories, Projects: d.Grant.Projects, TTL: oidc.Duration(d.Grant.TTL)}}
	for _, a := range d.Grant.Actions {
		p.Grant.Actions = append(p.Grant.Actions, registry.Action(a))
	}
	for _, m := range d.Match {
		p.Match = append(p.Match, oidc.Matcher{Claim: m.Claim, Path: m.Path, Equals: m.Equals, NotEquals: m.NotEquals, Like: m.Like, In: m.In})
	}
	return p
}
