package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// declarePolicies creates the trust policies the configuration declares
// (oidc.policies), and replaces a stored policy of the same name whose
// content differs, so the file stays the source of truth for its names.
// Policies created through the API under other names are left alone. A
// declared policy is validated exactly as one sent to the API.
func (s *Server) declarePolicies(ctx context.Context, svc *oidc.Exchanger) error {
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
	p := oidc.Policy{Name: d.Name, Issuer: d.Issuer, Audience: d.Audience, Effect: d.Effect, Condition: d.Condition, Force: d.Force, PrivilegedEvents: d.PrivilegedEvents,
		Grant: oidc.Grants{Repositories: d.Grant.Repositories, Projects: d.Grant.Projects, TTL: oidc.Duration(d.Grant.TTL)}}
	for _, a := range d.Grant.Actions {
		p.Grant.Actions = append(p.Grant.Actions, registry.Action(a))
	}
	for _, m := range d.Match {
		p.Match = append(p.Match, oidc.Matcher{Claim: m.Claim, Path: m.Path, Equals: m.Equals, NotEquals: m.NotEquals, Like: m.Like, In: m.In})
	}
	return p
}
