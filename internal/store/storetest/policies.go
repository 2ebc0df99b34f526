package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/store"
)

// testPolicies covers the trust-policy table: unique names, order, delete.
func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps := s.Policies()
	b := store.PolicyRecord{Name: "release", Issuer: "github", Config: []byte(`{"name":"release"}`), CreatedBy: "admin"}
	ok(t, "Create", ps.Create(ctx, &b))
	if b.ID == 0 || b.CreatedAt.IsZero() {
		t.Fatalf("Create did not set ID and CreatedAt: %+v", b)
	}
	a := store.PolicyRecord{Name: "a-read", Issuer: "gitlab", Config: []byte(`{}`)}
	ok(t, "Create a", ps.Create(ctx, &a))
	dup := store.PolicyRecord{Name: "release", Issuer: "x", Config: []byte(`{}`)}
	wantErr(t, "Create duplicate", ps.Create(ctx, &dup), store.ErrExists)
	got, err := ps.Get(ctx, "release")
	ok(t, "Get", err)
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	_, err = ps.Get(ctx, "nope")
	wantErr(t, "Get missing", err, store.ErrNotFound)
	list, err := ps.List(ctx)
	ok(t, "List", err)
	if diff := cmp.Diff([]store.PolicyRecord{a, b}, list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	ok(t, "Delete", ps.Delete(ctx, "release"))
	wantErr(t, "Delete again", ps.Delete(ctx, "release"), store.ErrNotFound)
	list, err = ps.List(ctx)
	ok(t, "List after delete", err)
	if len(list) != 1 || list[0].Name != "a-read" {
		t.Errorf("List after delete = %+v", list)
	}
}
