package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// DefaultTokenTTL is the lifetime of a minted upload token (PyPI: 900 s).
const DefaultTokenTTL = 15 * time.Minute

// ReplayMargin is kept past exp + leeway before a jti may be forgotten
// (PyPI #19627: a shorter record left a replay window).
const ReplayMargin = 5 * time.Second

// Grant is one (repository, project) a minted token may upload to.
type Grant struct {
	Repo    string `json:"repo"`
	Project string `json:"project"`
	// Create is set when the grant comes from a pending publisher: the
	// upload may create the project (and the store should then turn the
	// pending publisher into a normal one).
	Create      bool  `json:"create,omitempty"`
	PublisherID int64 `json:"publisher_id"`
}

// ScopeMint is a token to mint for an accepted exchange. Create lists
// pending-publisher grants whose projects must be created first.
type ScopeMint struct {
	Scope  registry.Scope
	Create []Grant
	TTL    time.Duration
	Origin string
	// Purpose starts the token's description ("trusted publishing").
	Purpose string
	// Claims are the identifying claims, for the token's description.
	Claims map[string]any
}

// Minter mints the token of an accepted exchange (StoreMinter).
type Minter interface {
	Mint(ctx context.Context, m ScopeMint) (token, tokenID string, expires time.Time, err error)
}

// Exchange is one audit record. Claims holds identifying claims only, and
// only once the token's signature verified (forged claims are not evidence).
type Exchange struct {
	Time        time.Time
	Issuer      string // iss URL; "" when the token named no configured issuer
	IssuerName  string // configured name; "unknown" as above
	Claims      map[string]string
	Outcome     string // "ok", "refused", "error"
	Code        string // refusal code
	Reason      string // Reason* constant, or the internal error for "error"
	Description string // what the caller was told
	TokenID     string
	Grants      []Grant
	Scope       string // RFC 8693 exchanges: the granted scope
	// Action is the audit action ("" means "oidc.mint"); Suppressed counts
	// the refusals a summary record stands for (see auditLimiter).
	Action     string
	Suppressed int
}

// Auditor records every exchange, accepted or refused.
type Auditor interface {
	Record(ctx context.Context, e Exchange)
}

// ProjectChecker tells whether a project exists, for pending publishers.
type ProjectChecker interface {
	ProjectExists(ctx context.Context, repo, project string) (bool, error)
}

// Deps are the Exchanger's collaborators. Auditor may be nil.
type Deps struct {
	Publishers PublisherSource
	Replay     ReplayStore
	Minter     Minter
	Auditor    Auditor
	Projects   ProjectChecker
	// TokenTTL is the minted token's lifetime; 0 means DefaultTokenTTL.
	TokenTTL time.Duration
	// Policies are the trust policies. Their deny rules bind every
	// exchange, whatever granted it; their allow rules grant through the
	// RFC 8693 exchange, which without them refuses as not enabled. When
	// Policies is nil and PolicyStore is set, the stored policies are
	// served, compiled and cached (PolicyCacheTTL).
	Policies    PolicySource
	PolicyStore store.Policies
}

// MintResult is a successful exchange.
type MintResult struct {
	Token   string
	TokenID string
	Expires time.Time
	Grants  []Grant
	// Entries and Scope are set by Exchange (RFC 8693).
	Entries []Entry
	Scope   registry.Scope
}

// Exchanger turns a verified ID token into a wharf token.
type Exchanger struct {
	v       *Verifier
	d       Deps
	cel     *CEL
	limiter *auditLimiter
}

// New builds the Verifier and the Exchanger around it, registering metrics
// once on cfg.Metrics.
func New(cfg Config, d Deps) (*Exchanger, error) {
	const op = "oidc.New"
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if d.Publishers == nil || d.Replay == nil || d.Minter == nil || d.Projects == nil {
		return nil, errs.Errorf(errs.Internal, op, "Publishers, Replay, Minter and Projects are required")
	}
	if d.TokenTTL <= 0 {
		d.TokenTTL = DefaultTokenTTL
	}
	m, err := newMetrics(c.Metrics)
	if err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	x := &Exchanger{v: newVerifier(c, m), d: d, limiter: newAuditLimiter()}
	if x.cel, err = NewCEL(); err != nil {
		return nil, errs.E(errs.Internal, op, err)
	}
	if d.Policies == nil && d.PolicyStore != nil {
		x.d.Policies = &storePolicies{store: d.PolicyStore, issuers: x.Issuers(), cel: x.cel, log: c.Logger, now: c.Now}
	}
	return x, nil
}

// Verifier returns the verifier (for Run/Warm and other exchanges).
func (x *Exchanger) Verifier() *Verifier { return x.v }

// Audience is served at GET /_/oidc/audience.
func (x *Exchanger) Audience() string { return x.v.cfg.Audience }

// MintToken runs the PyPI exchange: verify, match publishers, apply the
// deny policies, claim the jti, mint (research/oidc-federation.md §2.7). A
// refusal is returned as an errs.Unauthenticated error wrapping a *Refusal
// (use errors.As and send Refusal.Body with status 422); other errors are
// the server's fault.
func (x *Exchanger) MintToken(ctx context.Context, rawJWT string) (MintResult, error) {
	return x.run(ctx, "oidc.MintToken", rawJWT, func(ctx context.Context, c Claims, _ *PolicySet) (candidate, *Refusal, error) {
		grants, r, err := x.match(ctx, c)
		if r != nil || err != nil {
			return candidate{}, r, err
		}
		return candidate{entries: publisherEntries(grants, x.d.TokenTTL), finish: func(entries []Entry) (ScopeMint, []Grant, []Entry, *Refusal) {
			// What the deny policies left: the publishers' (repository,
			// project) pairs that may still upload.
			var kept []Grant
			scope := registry.Scope{Actions: []registry.Action{registry.Upload}}
			for _, g := range grants {
				if !slices.ContainsFunc(entries, func(e Entry) bool {
					return e.Repo == g.Repo && slices.Contains(e.Projects, g.Project) && slices.Contains(e.Actions, registry.Upload)
				}) {
					continue
				}
				kept = append(kept, g)
				scope.Repos = append(scope.Repos, g.Repo)
				scope.Projects = append(scope.Projects, g.Project)
				scope.Bindings = append(scope.Bindings, registry.Binding{Repo: g.Repo, Project: g.Project})
			}
			return ScopeMint{Scope: scope, Create: creates(kept), TTL: x.d.TokenTTL, Purpose: "trusted publishing"}, kept, entries, nil
		}}, nil, nil
	})
}

// publisherEntries expresses publisher grants as policy entries (upload
// of one project), so deny policies apply to them as to any grant.
func publisherEntries(grants []Grant, ttl time.Duration) []Entry {
	out := make([]Entry, 0, len(grants))
	for _, g := range grants {
		out = append(out, Entry{Repo: g.Repo, Projects: []string{g.Project}, Actions: []registry.Action{registry.Upload}, TTL: ttl, Policy: fmt.Sprintf("publisher:%d", g.PublisherID)})
	}
	return out
}

// creates keeps the grants of pending publishers.
func creates(grants []Grant) []Grant {
	var out []Grant
	for _, g := range grants {
		if g.Create {
			out = append(out, g)
		}
	}
	return out
}

// candidate is what a path's authorisation step found: every entry an
// allow rule (policy or publisher) grants, and how to turn what is left
// after the deny policies into the token to mint. A path never mints
// itself: run does, after the deny policies, so no path can skip them.
type candidate struct {
	entries []Entry
	// scoped: the token's scope is reported (RFC 8693 answers with it).
	scoped bool
	// finish builds the token from the entries the deny policies left
	// (never empty), the grants to audit and the entries the token
	// carries; or refuses.
	finish func(entries []Entry) (ScopeMint, []Grant, []Entry, *Refusal)
}

// run is the one exchange path every way of turning an ID token into a
// wharf token goes through (mint-token, its GitHub alias, the RFC 8693
// exchange, and so `wharf publish` and `wharf login`): verify, find what
// allow rules grant, take away what deny policies remove, claim the jti,
// mint, audit. A new path adds an authorize function, nothing else.
func (x *Exchanger) run(ctx context.Context, op, rawJWT string, authorize func(context.Context, Claims, *PolicySet) (candidate, *Refusal, error)) (MintResult, error) {
	now := x.v.cfg.Now()
	c, r := x.v.verify(ctx, rawJWT)
	if r != nil {
		return MintResult{}, x.refused(ctx, now, c, r)
	}
	var set *PolicySet
	if x.d.Policies != nil {
		var err error
		if set, err = x.d.Policies.Policies(ctx); err != nil {
			// Without the policies we cannot know what they deny.
			return MintResult{}, x.failed(ctx, now, c, errs.E(errs.Unavailable, op, fmt.Errorf("policies: %w", err)))
		}
	}
	cand, r, err := authorize(ctx, c, set)
	if err != nil {
		return MintResult{}, x.failed(ctx, now, c, errs.E(errs.Unavailable, op, err))
	}
	if r != nil {
		if d := set.Denials(c); len(d) > 0 {
			r = d[0].refusal(c)
		}
		return MintResult{}, x.refused(ctx, now, c, r)
	}
	entries := cand.entries
	denials := set.Denials(c)
	for _, d := range denials {
		entries = Subtract(entries, d.Grant)
	}
	if len(entries) == 0 {
		if len(denials) == 0 {
			// authorize returned no refusal and no grant: a bug, refuse.
			return MintResult{}, x.failed(ctx, now, c, errs.Errorf(errs.Internal, op, "no grant and no refusal"))
		}
		return MintResult{}, x.refused(ctx, now, c, denials[0].refusal(c))
	}
	mint, grants, entries, r := cand.finish(entries)
	if r != nil {
		return MintResult{}, x.refused(ctx, now, c, r)
	}
	// The jti is claimed only now, so a token refused for a publisher or
	// policy mismatch can be retried once the configuration is fixed.
	fresh, err := x.d.Replay.Claim(ctx, c.Issuer, c.JTI, c.Expires.Add(x.v.cfg.Leeway+ReplayMargin))
	if err != nil {
		return MintResult{}, x.failed(ctx, now, c, errs.E(errs.Unavailable, op, fmt.Errorf("replay store: %w", err)))
	}
	if !fresh {
		return MintResult{}, x.refused(ctx, now, c, refuse(CodeInvalidReuseToken, ReasonReplay,
			"invalid token: this ID token (jti %q) was already used; request a new ID token for each exchange", truncate(c.JTI)))
	}
	ids := identifying(c)
	meta := make(map[string]any, len(ids)+1)
	for k, v := range ids {
		meta[k] = v
	}
	meta["iss"] = c.Issuer
	mint.Claims, mint.Origin = meta, "oidc:"+c.IssuerName
	token, tokenID, expires, err := x.d.Minter.Mint(ctx, mint)
	if err != nil {
		return MintResult{}, x.failed(ctx, now, c, errs.E(errs.KindOf(err), op, fmt.Errorf("mint: %w", err)))
	}
	x.v.m.exchanges.WithLabelValues(c.IssuerName, "ok").Inc()
	scope := ""
	if cand.scoped {
		scope = FormatScope(entries)
	}
	x.audit(ctx, Exchange{Time: now, Issuer: c.Issuer, IssuerName: c.IssuerName, Claims: ids, Outcome: "ok", TokenID: tokenID, Grants: grants, Scope: scope})
	res := MintResult{Token: token, TokenID: tokenID, Expires: expires, Grants: grants, Scope: mint.Scope}
	if scope != "" {
		res.Entries = entries
	}
	return res, nil
}

// match returns the grants of every publisher the claims satisfy.
func (x *Exchanger) match(ctx context.Context, c Claims) ([]Grant, *Refusal, error) {
	pubs, err := x.d.Publishers.ForIssuer(ctx, c.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("publishers: %w", err)
	}
	var (
		grants        []Grant
		closest       *mismatch
		pendingExists *Publisher
	)
	has := func(repo, project string) bool {
		for _, g := range grants {
			if g.Repo == repo && g.Project == project {
				return true
			}
		}
		return false
	}
	// Normal publishers first, so a pending one for the same project adds
	// nothing; a pending publisher whose project exists by now falls through
	// (PyPI refuses instead: warehouse#18478).
	for _, pending := range []bool{false, true} {
		for i := range pubs {
			p := &pubs[i]
			if p.Pending != pending {
				continue
			}
			if m := p.match(c); m != nil {
				if closest == nil || (m.own && !closest.own) || (m.own == closest.own && m.stage > closest.stage) {
					closest = m
				}
				continue
			}
			if has(p.Repo, p.Project) {
				continue
			}
			if p.Pending {
				exists, err := x.d.Projects.ProjectExists(ctx, p.Repo, p.Project)
				if err != nil {
					return nil, nil, fmt.Errorf("project lookup: %w", err)
				}
				if exists {
					pendingExists = p
					continue
				}
			}
			grants = append(grants, Grant{Repo: p.Repo, Project: p.Project, Create: p.Pending, PublisherID: p.ID})
		}
	}
	if len(grants) > 0 {
		return grants, nil, nil
	}
	// A stale pending publisher matched; if a real publisher of the caller's
	// own repository came close, its mismatch is the more useful answer.
	if pendingExists != nil && (closest == nil || !closest.own) {
		return nil, refuse(CodeInvalidPendingPublisher, ReasonPendingProjected,
			"valid token, but project %q already exists in repository %q, so its pending publisher no longer applies: ask the project's owners to add a trusted publisher for it",
			pendingExists.Project, pendingExists.Repo), nil
	}
	yours := describe(c)
	if closest != nil && closest.own {
		if closest.claim == "event_name" {
			return nil, refuse(CodeInvalidPublisher, ReasonForbiddenEvent,
				"valid token, but publishing from a workflow triggered by %q is not allowed (your token: %s)", truncate(c.EventName()), yours), nil
		}
		return nil, refuse(CodeInvalidPublisher, ReasonNoPublisher,
			"valid token, but no corresponding publisher: claim %q (%q in your token) does not match the publisher configured for your %s (your token: %s)",
			closest.claim, truncate(c.String(closest.claim)), ownerWord(c), yours), nil
	}
	return nil, refuse(CodeInvalidPublisher, ReasonNoPublisher,
		"valid token, but no corresponding publisher: no trusted publisher matches %s", yours), nil
}

func ownerWord(c Claims) string {
	if c.Kind == KindGitLab {
		return "project path"
	}
	return "repository"
}

// describe lists the caller's own identifying claims, for refusals.
func describe(c Claims) string {
	var names []string
	switch c.Kind {
	case KindGitHub:
		names = []string{"repository", "repository_owner_id", "workflow_ref", "ref", "environment", "event_name"}
	case KindGitLab:
		names = []string{"project_path", "namespace_id", "ci_config_ref_uri", "ref_path", "environment"}
	default:
		names = []string{"sub"}
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %q", n, truncate(c.String(n)))
	}
	return b.String()
}

// identifying picks the claims worth auditing and attaching to the token.
func identifying(c Claims) map[string]string {
	if c.Raw == nil {
		return nil
	}
	var names []string
	switch c.Kind {
	case KindGitHub:
		names = []string{"sub", "jti", "repository", "repository_id", "repository_owner", "repository_owner_id", "workflow_ref", "job_workflow_ref", "ref", "sha", "run_id", "run_attempt", "environment", "event_name", "actor", "runner_environment"}
	case KindGitLab:
		names = []string{"sub", "jti", "project_path", "project_id", "namespace_path", "namespace_id", "ci_config_ref_uri", "ref_path", "sha", "pipeline_id", "job_id", "environment", "user_login"}
	default:
		names = []string{"sub", "jti"}
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if v := c.String(n); v != "" {
			out[n] = truncate(v)
		}
	}
	return out
}

func (x *Exchanger) refused(ctx context.Context, now time.Time, c Claims, r *Refusal) error {
	name := cmpOr(c.IssuerName, "unknown")
	x.v.m.exchanges.WithLabelValues(name, "refused").Inc()
	x.v.m.refusals.WithLabelValues(r.Reason).Inc()
	x.v.cfg.Logger.DebugContext(ctx, "oidc exchange refused", "issuer", name, "code", r.Code, "reason", r.Reason, "description", r.Description)
	x.audit(ctx, Exchange{Time: now, Issuer: c.Issuer, IssuerName: name, Claims: identifying(c), Outcome: "refused", Code: r.Code, Reason: r.Reason, Description: r.Description})
	return errs.E(errs.Unauthenticated, "oidc.MintToken", r)
}

func (x *Exchanger) failed(ctx context.Context, now time.Time, c Claims, err error) error {
	name := cmpOr(c.IssuerName, "unknown")
	x.v.m.exchanges.WithLabelValues(name, "error").Inc()
	x.v.cfg.Logger.ErrorContext(ctx, "oidc exchange failed", "issuer", name, "err", err)
	x.audit(ctx, Exchange{Time: now, Issuer: c.Issuer, IssuerName: name, Claims: identifying(c), Outcome: "error", Reason: err.Error()})
	return err
}

// AsRefusal returns the *Refusal inside err, or nil.
func AsRefusal(err error) *Refusal {
	var r *Refusal
	if errors.As(err, &r) {
		return r
	}
	return nil
}
