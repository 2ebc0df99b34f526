package adminapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c := e.client(e.admin)
	made, err := c.CreateToken(ctx, adminapi.CreateTokenRequest{
		Description: "ci for acme", Repos: []string{"local"}, Projects: []string{"Acme_Lib"},
		Actions: []registry.Action{registry.Upload, registry.Read}, ExpiresIn: adminapi.Duration(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantScope := registry.Scope{Repos: []string{"local"}, Projects: []string{"acme-lib"}, Actions: []registry.Action{registry.Read, registry.Upload}}
	if diff := cmp.Diff(wantScope, made.Scope); diff != "" {
		t.Errorf("scope (-want +got):\n%s", diff)
	}
	if !made.ExpiresAt.Equal(epoch.Add(time.Hour)) {
		t.Errorf("expires_at = %v, want %v", made.ExpiresAt, epoch.Add(time.Hour))
	}
	who, err := e.client(made.Token).Whoami(ctx)
	if err != nil {
		t.Fatalf("the new token does not work: %v", err)
	}
	if who.TokenID != made.ID {
		t.Errorf("whoami = %q, want %q", who.TokenID, made.ID)
	}

	// The list shows the token but never a secret.
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	secretPart := made.Token[strings.LastIndexByte(made.Token, '_')+1:]
	if strings.Contains(string(body), secretPart) || strings.Contains(string(body), "secret") {
		t.Errorf("token list leaks a secret: %s", body)
	}
	list, err := c.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found *adminapi.TokenInfo
	for i := range list {
		if list[i].ID == made.ID {
			found = &list[i]
		}
	}
	if found == nil {
		t.Fatalf("token %s not listed in %+v", made.ID, list)
	}
	want := adminapi.TokenInfo{ID: made.ID, Description: "ci for acme", Scope: wantScope, Origin: "admin",
		CreatedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}
	if diff := cmp.Diff(want, *found); diff != "" {
		t.Errorf("listed (-want +got):\n%s", diff)
	}

	if err := c.RevokeToken(ctx, made.ID); err != nil {
		t.Fatal(err)
	}
	// Revocation goes through auth, so its cache forgets the token at once.
	if _, err := e.client(made.Token).Whoami(ctx); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("revoked token: %v, want unauthenticated", err)
	}
	if err := c.RevokeToken(ctx, made.ID); err != nil {
		t.Errorf("revoking twice: %v, want success", err)
	}
	if err := c.RevokeToken(ctx, "nosuchtoken"); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "'nosuchtoken' does not exist") {
		t.Errorf("revoking an unknown token: %v", err)
	}

	evs, err := e.st.Audit().List(ctx, store.AuditFilter{Action: "token."})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Action+" "+ev.Target+" by "+ev.Actor+" "+ev.Detail["projects"])
	}
	adminID := e.admin[len("wharf_") : len("wharf_")+16]
	wantAudit := []string{
		"token.revoke " + made.ID + " by " + adminID + " ",
		"token.create " + made.ID + " by " + adminID + " acme-lib",
	}
	if diff := cmp.Diff(wantAudit, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestTokenPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	localAdmin := e.mint(t, registry.Scope{Repos: []string{"local"}, Actions: []registry.Action{registry.Admin}})
	upload := e.mint(t, registry.Scope{Actions: []registry.Action{registry.Upload, registry.Read}})
	req := adminapi.CreateTokenRequest{Actions: []registry.Action{registry.Read}, Repos: []string{"local"}}
	for _, tok := range []string{localAdmin, upload} {
		c := e.client(tok)
		if _, err := c.CreateToken(t.Context(), req); !errs.Is(err, errs.PermissionDenied) {
			t.Errorf("create: %v, want permission denied", err)
		}
		if _, err := c.ListTokens(t.Context()); !errs.Is(err, errs.PermissionDenied) {
			t.Errorf("list: %v, want permission denied", err)
		}
		if err := c.RevokeToken(t.Context(), "x"); !errs.Is(err, errs.PermissionDenied) {
			t.Errorf("revoke: %v, want permission denied", err)
		}
	}
}

func TestExpiresInSeconds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, _, msg := raw(t, "POST", e.url+"/api/v1/tokens", "Bearer "+e.admin, `{"actions":["read"],"expires_in":90}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, msg)
	}
	list, err := e.client(e.admin).ListTokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Every token here is created at the same instant, so find the new
	// one (the only one with an expiry) rather than rely on list order.
	var expiring []time.Time
	for _, ti := range list {
		if !ti.ExpiresAt.IsZero() {
			expiring = append(expiring, ti.ExpiresAt)
		}
	}
	if len(expiring) != 1 || !expiring[0].Equal(epoch.Add(90*time.Second)) {
		t.Errorf("expiries %v, want one at %v", expiring, epoch.Add(90*time.Second))
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{`"1h"`, time.Hour, false},
		{`"90m"`, 90 * time.Minute, false},
		{`3600`, time.Hour, false},
		{`"3600"`, time.Hour, false},
		{`60`, time.Minute, false},
		{`"1m"`, time.Minute, false},
		{`null`, 0, false},
		{`""`, 0, false},
		// An explicit zero read as "never expires", the opposite of
		// what was asked; under a minute is a typo.
		{`0`, 0, true},
		{`"0"`, 0, true},
		{`"0s"`, 0, true},
		{`"30s"`, 0, true},
		{`59`, 0, true},
		{`"-1h"`, 0, true},
		{`-1`, 0, true},
		{`1.5`, 0, true},
		{`"tomorrow"`, 0, true},
		{`99999999999999999`, 0, true},
	} {
		var d adminapi.Duration
		err := d.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.bad || time.Duration(d) != tt.want {
			t.Errorf("%s: got %v, %v; want %v, error %v", tt.in, time.Duration(d), err, tt.want, tt.bad)
		}
	}
	b, err := adminapi.Duration(time.Hour).MarshalJSON()
	if err != nil || string(b) != `"1h0m0s"` {
		t.Errorf("marshal: %s, %v", b, err)
	}
}

// TestTokenLifetimeRefused: "expires_in": "0s" minted a token that never
// expired; zero, negative and sub-minute lifetimes are refused by the API.
func TestTokenLifetimeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, body := range []string{`"0s"`, `0`, `"30s"`, `"-1h"`} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+"/api/v1/tokens",
			strings.NewReader(`{"actions":["read"],"expires_in":`+body+`}`))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "lifetime") {
			t.Errorf("expires_in %s: %d %s, want 400 explaining the lifetime", body, resp.StatusCode, msg)
		}
	}
	toks, err := e.st.Tokens().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 { // the admin's
		t.Errorf("%d tokens after refusals, want only the admin's", len(toks))
	}
}
