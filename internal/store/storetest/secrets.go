package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/store"
)

// testSecrets covers the secret store's tables: names, keys, versions and
// their states, grants and their cascade with repositories.
func testSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	ss := s.Secrets()

	a := store.SecretRecord{Name: "pypi-token", WrappedKey: []byte{1, 2, 3}, KEKID: "k1"}
	ok(t, "Create", ss.Create(ctx, &a))
	if a.ID == 0 || a.CreatedAt.IsZero() {
		t.Fatalf("Create did not set ID and CreatedAt: %+v", a)
	}
	dup := store.SecretRecord{Name: "pypi-token", KEKID: "k1"}
	wantErr(t, "Create duplicate", ss.Create(ctx, &dup), store.ErrExists)
	b := store.SecretRecord{Name: "basic-pass", KEKID: "k1"} // nil key: stored empty
	ok(t, "Create b", ss.Create(ctx, &b))

	got, err := ss.Get(ctx, "pypi-token")
	ok(t, "Get", err)
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	_, err = ss.Get(ctx, "nope")
	wantErr(t, "Get missing", err, store.ErrNotFound)

	ok(t, "SetKey", ss.SetKey(ctx, a.ID, []byte{9, 9}, "k2"))
	wantErr(t, "SetKey missing", ss.SetKey(ctx, b.ID+100, []byte{1}, "k2"), store.ErrNotFound)
	list, err := ss.List(ctx)
	ok(t, "List", err)
	var names []string
	for _, r := range list {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"basic-pass", "pypi-token"}, names); diff != "" {
		t.Errorf("List names (-want +got):\n%s", diff)
	}
	if got := list[1]; string(got.WrappedKey) != "\x09\x09" || got.KEKID != "k2" {
		t.Errorf("after SetKey: key %x, kek %q", got.WrappedKey, got.KEKID)
	}

	// Versions.
	n, err := ss.MaxVersion(ctx, a.ID)
	ok(t, "MaxVersion empty", err)
	if n != 0 {
		t.Errorf("MaxVersion of a new secret = %d, want 0", n)
	}
	_, err = ss.LatestEnabled(ctx, a.ID)
	wantErr(t, "LatestEnabled none", err, store.ErrNotFound)
	for i := 1; i <= 3; i++ {
		v := store.SecretVersion{SecretID: a.ID, Version: i, Ciphertext: []byte{byte(i), 0xff}}
		ok(t, "AddVersion", ss.AddVersion(ctx, &v))
		if v.State != store.SecretEnabled || v.CreatedAt.IsZero() {
			t.Errorf("AddVersion %d: state %q, created %v", i, v.State, v.CreatedAt)
		}
	}
	v2 := store.SecretVersion{SecretID: a.ID, Version: 2, Ciphertext: []byte{7}}
	wantErr(t, "AddVersion duplicate", ss.AddVersion(ctx, &v2), store.ErrExists)
	orphan := store.SecretVersion{SecretID: b.ID + 100, Version: 1, Ciphertext: []byte{7}}
	wantErr(t, "AddVersion missing secret", ss.AddVersion(ctx, &orphan), store.ErrNotFound)
	n, err = ss.MaxVersion(ctx, a.ID)
	ok(t, "MaxVersion", err)
	if n != 3 {
		t.Errorf("MaxVersion = %d, want 3", n)
	}
	gv, err := ss.GetVersion(ctx, a.ID, 2)
	ok(t, "GetVersion", err)
	if gv.Version != 2 || string(gv.Ciphertext) != "\x02\xff" || gv.State != store.SecretEnabled {
		t.Errorf("GetVersion(2) = %+v", gv)
	}
	_, err = ss.GetVersion(ctx, a.ID, 9)
	wantErr(t, "GetVersion missing", err, store.ErrNotFound)

	ok(t, "disable 3", ss.SetVersionState(ctx, a.ID, 3, store.SecretDisabled))
	ok(t, "destroy 2", ss.SetVersionState(ctx, a.ID, 2, store.SecretDestroyed))
	wantErr(t, "state of missing", ss.SetVersionState(ctx, a.ID, 9, store.SecretDisabled), store.ErrNotFound)
	latest, err := ss.LatestEnabled(ctx, a.ID)
	ok(t, "LatestEnabled", err)
	if latest.Version != 1 || string(latest.Ciphertext) != "\x01\xff" {
		t.Errorf("LatestEnabled = %+v, want version 1 (2 destroyed, 3 disabled)", latest)
	}
	gv, err = ss.GetVersion(ctx, a.ID, 2)
	ok(t, "GetVersion destroyed", err)
	if gv.State != store.SecretDestroyed || gv.Ciphertext != nil {
		t.Errorf("destroyed version kept its ciphertext: %+v", gv)
	}
	vs, err := ss.ListVersions(ctx, a.ID)
	ok(t, "ListVersions", err)
	type vstate struct {
		V  int
		S  store.SecretState
		CT []byte
	}
	var gotStates []vstate
	for _, v := range vs {
		gotStates = append(gotStates, vstate{v.Version, v.State, v.Ciphertext})
	}
	want := []vstate{{1, store.SecretEnabled, nil}, {2, store.SecretDestroyed, nil}, {3, store.SecretDisabled, nil}}
	if diff := cmp.Diff(want, gotStates); diff != "" {
		t.Errorf("ListVersions (-want +got):\n%s", diff)
	}

	// Grants, and their cascade with the repository.
	mustRepo(t, s, "pypi")
	mustRepo(t, s, "mirror")
	ok(t, "Grant", ss.Grant(ctx, a.ID, "pypi"))
	ok(t, "Grant again", ss.Grant(ctx, a.ID, "pypi"))
	ok(t, "Grant mirror", ss.Grant(ctx, a.ID, "mirror"))
	wantErr(t, "Grant missing repo", ss.Grant(ctx, a.ID, "nope"), store.ErrNotFound)
	for _, tt := range []struct {
		id   int64
		repo string
		want bool
	}{{a.ID, "pypi", true}, {a.ID, "mirror", true}, {b.ID, "pypi", false}, {a.ID, "nope", false}} {
		g, err := ss.Granted(ctx, tt.id, tt.repo)
		ok(t, "Granted", err)
		if g != tt.want {
			t.Errorf("Granted(%d, %q) = %v, want %v", tt.id, tt.repo, g, tt.want)
		}
	}
	gs, err := ss.Grants(ctx, a.ID)
	ok(t, "Grants", err)
	if diff := cmp.Diff([]string{"mirror", "pypi"}, gs); diff != "" {
		t.Errorf("Grants (-want +got):\n%s", diff)
	}
	ok(t, "Revoke", ss.Revoke(ctx, a.ID, "mirror"))
	wantErr(t, "Revoke again", ss.Revoke(ctx, a.ID, "mirror"), store.ErrNotFound)
	ok(t, "Repos.Delete", s.Repos().Delete(ctx, "pypi"))
	mustRepo(t, s, "pypi")
	if g, err := ss.Granted(ctx, a.ID, "pypi"); err != nil || g {
		t.Errorf("a new repository named like a deleted one inherited its grant (granted %v, err %v)", g, err)
	}
}
