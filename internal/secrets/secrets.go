// Package secrets is wharf's encrypted secret store: named secrets with
// numbered versions (a PyPI token, an upstream password), kept under
// envelope encryption, and handed only to the repositories granted access.
//
// Each secret has its own random 256-bit data key. Every version's value is
// sealed with AES-256-GCM under that data key, with the secret's ID, name
// and version number as additional authenticated data, so a ciphertext
// copied onto another row (another version, another secret) fails to
// decrypt instead of answering with the wrong credential. Data keys are
// wrapped (AES-256-GCM again, with the secret's ID and name as additional
// data) by a key-encryption key (KEK) that never touches the database; the
// KEK's ID is stored next to each wrapped key, so RotateKEK can re-wrap
// every data key under a new KEK and a wrong KEK is detected by name.
//
// Plaintext values are never logged, never returned by the admin API and
// never stored; only Access returns one, to a granted repository, and every
// Access is audited (repository, secret, version and outcome; never the
// value).
package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// DefaultMaxValueSize bounds a secret value, as Secret Manager does (64 KiB):
// secrets are tokens and passwords, not files.
const DefaultMaxValueSize = 64 << 10

// Latest names the newest enabled version in Access.
const Latest = "latest"

// Config holds the service's dependencies.
type Config struct {
	Store store.Store
	// KEK wraps new data keys (and unwraps those wrapped by it).
	KEK []byte
	// PreviousKEKs can still unwrap data keys (during a rotation).
	PreviousKEKs [][]byte
	Logger       *slog.Logger
	// Now stamps audit events; default time.Now.
	Now func() time.Time
	// MaxValueSize bounds a value; 0 means DefaultMaxValueSize.
	MaxValueSize int
}

// Service manages secrets and hands their values to granted repositories.
// It is safe for concurrent use.
type Service struct {
	st       store.Store
	kr       atomic.Pointer[keyring]
	rotateMu sync.Mutex // one rotation at a time
	log      *slog.Logger
	now      func() time.Time
	maxValue int
}

// New builds the service. It fails only on a malformed KEK.
func New(cfg Config) (*Service, error) {
	kr, err := newKeyring(cfg.KEK, cfg.PreviousKEKs...)
	if err != nil {
		return nil, errs.E(errs.Invalid, "secrets.New", err)
	}
	s := &Service{st: cfg.Store, log: cfg.Logger, now: cfg.Now, maxValue: cfg.MaxValueSize}
	s.kr.Store(kr)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxValue <= 0 {
		s.maxValue = DefaultMaxValueSize
	}
	return s, nil
}

// KEKID is the ID of the key-encryption key new data keys are wrapped with.
func (s *Service) KEKID() string { return s.kr.Load().primary }

type actorKey struct{}

// WithActor names who acts in ctx (a token ID, "cli"), for the audit log.
// Without it events name "system".
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// Info describes a secret without its values.
type Info struct {
	Name      string        `json:"name"`
	CreatedAt time.Time     `json:"created_at"`
	KEKID     string        `json:"kek_id"`
	Versions  []VersionInfo `json:"versions"`
	Grants    []string      `json:"grants"` // repositories that may access it
}

// VersionInfo describes one version without its value.
type VersionInfo struct {
	Version   int               `json:"version"`
	State     store.SecretState `json:"state"`
	CreatedAt time.Time         `json:"created_at"`
}

// ValidName reports whether name can name a secret: 1 to 128 letters,
// digits, '.', '_' and '-', starting with a letter or digit.
func ValidName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

func checkName(op, name string) error {
	if !ValidName(name) {
		return errs.Errorf(errs.Invalid, op, "%q is not a valid secret name: use up to 128 letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// ParseVersion parses a version reference: "latest" (0) or a number from 1.
func ParseVersion(s string) (int, error) {
	if s == Latest {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strings.HasPrefix(s, "+") {
		return 0, errs.Errorf(errs.Invalid, "secrets.ParseVersion", "version %q is neither %q nor a version number such as 1", s, Latest)
	}
	return n, nil
}

// Create makes a secret with no versions and a fresh data key.
func (s *Service) Create(ctx context.Context, name string) error {
	const op = "secrets.Create"
	if err := checkName(op, name); err != nil {
		return err
	}
	kr := s.kr.Load()
	dek := make([]byte, 32)
	rand.Read(dek)
	err := s.st.InTx(ctx, func(tx store.Store) error {
		// The ID is part of the wrapping's additional data, so the row
		// is inserted first and its key set once the ID is known.
		rec := store.SecretRecord{Name: name, KEKID: kr.primary}
		if err := tx.Secrets().Create(ctx, &rec); err != nil {
			return err
		}
		wrapped := kr.aeads[kr.primary].Seal(nil, nil, dek, dekAAD(rec.ID, name))
		if err := tx.Secrets().SetKey(ctx, rec.ID, wrapped, kr.primary); err != nil {
			return err
		}
		return s.audit(ctx, tx, registry.AuditEvent{Action: "secret.create", Target: name,
			Detail: map[string]string{"kek_id": kr.primary}})
	})
	if err != nil {
		return err
	}
	s.log.Info("secret created", "secret", name, "actor", actorOf(ctx))
	return nil
}

// AddVersion seals value as the secret's next version, enabled, and returns
// its number. A reference to "latest" uses it from the next Access on.
func (s *Service) AddVersion(ctx context.Context, name string, value []byte) (int, error) {
	const op = "secrets.AddVersion"
	if err := checkName(op, name); err != nil {
		return 0, err
	}
	if len(value) == 0 {
		return 0, errs.Errorf(errs.Invalid, op, "the secret value is empty")
	}
	if len(value) > s.maxValue {
		return 0, errs.Errorf(errs.TooLarge, op, "the secret value is %d bytes; at most %d are allowed", len(value), s.maxValue)
	}
	var version int
	err := s.st.InTx(ctx, func(tx store.Store) error {
		rec, err := s.get(ctx, tx, name)
		if err != nil {
			return err
		}
		dek, err := s.unwrap(rec)
		if err != nil {
			return err
		}
		n, err := tx.Secrets().MaxVersion(ctx, rec.ID)
		if err != nil {
			return err
		}
		version = n + 1
		v := store.SecretVersion{SecretID: rec.ID, Version: version, State: store.SecretEnabled,
			Ciphertext: dek.Seal(nil, nil, value, valueAAD(rec.ID, version, name))}
		if err := tx.Secrets().AddVersion(ctx, &v); err != nil {
			return err
		}
		return s.audit(ctx, tx, registry.AuditEvent{Action: "secret.add_version", Target: name,
			Detail: map[string]string{"version": strconv.Itoa(version)}})
	})
	if err != nil {
		return 0, err
	}
	s.log.Info("secret version added", "secret", name, "version", version, "actor", actorOf(ctx))
	return version, nil
}

// List describes every secret, by name: versions, states and grants, never
// values.
func (s *Service) List(ctx context.Context) ([]Info, error) {
	recs, err := s.st.Secrets().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(recs))
	for _, r := range recs {
		info, err := s.info(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Get describes one secret.
func (s *Service) Get(ctx context.Context, name string) (Info, error) {
	const op = "secrets.Get"
	if err := checkName(op, name); err != nil {
		return Info{}, err
	}
	r, err := s.get(ctx, s.st, name)
	if err != nil {
		return Info{}, err
	}
	return s.info(ctx, r)
}

func (s *Service) info(ctx context.Context, r store.SecretRecord) (Info, error) {
	vs, err := s.st.Secrets().ListVersions(ctx, r.ID)
	if err != nil {
		return Info{}, err
	}
	gs, err := s.st.Secrets().Grants(ctx, r.ID)
	if err != nil {
		return Info{}, err
	}
	info := Info{Name: r.Name, CreatedAt: r.CreatedAt, KEKID: r.KEKID, Versions: make([]VersionInfo, len(vs)), Grants: gs}
	if info.Grants == nil {
		info.Grants = []string{}
	}
	for i, v := range vs {
		info.Versions[i] = VersionInfo{Version: v.Version, State: v.State, CreatedAt: v.CreatedAt}
	}
	return info, nil
}

// DisableVersion stops a version from being accessed until it is enabled
// again; "latest" then resolves to the newest version still enabled.
func (s *Service) DisableVersion(ctx context.Context, name string, version int) error {
	return s.setState(ctx, "secrets.DisableVersion", "secret.disable_version", name, version, store.SecretDisabled)
}

// EnableVersion makes a disabled version accessible again. A destroyed
// version cannot be enabled.
func (s *Service) EnableVersion(ctx context.Context, name string, version int) error {
	return s.setState(ctx, "secrets.EnableVersion", "secret.enable_version", name, version, store.SecretEnabled)
}

// DestroyVersion deletes a version's value for good; the version number
// stays, in state destroyed, and is never reused.
func (s *Service) DestroyVersion(ctx context.Context, name string, version int) error {
	return s.setState(ctx, "secrets.DestroyVersion", "secret.destroy_version", name, version, store.SecretDestroyed)
}

func (s *Service) setState(ctx context.Context, op, action, name string, version int, state store.SecretState) error {
	if err := checkName(op, name); err != nil {
		return err
	}
	if version < 1 {
		return errs.Errorf(errs.Invalid, op, "version must be a number from 1")
	}
	err := s.st.InTx(ctx, func(tx store.Store) error {
		rec, err := s.get(ctx, tx, name)
		if err != nil {
			return err
		}
		v, err := tx.Secrets().GetVersion(ctx, rec.ID, version)
		if errors.Is(err, store.ErrNotFound) {
			return errs.Errorf(errs.NotFound, op, "secret %q has no version %d ('wharf secret list' shows its versions)", name, version)
		}
		if err != nil {
			return err
		}
		if v.State == store.SecretDestroyed && state != store.SecretDestroyed {
			return errs.Errorf(errs.Conflict, op, "version %d of secret %q was destroyed; its value is gone for good (add a new version instead)", version, name)
		}
		if v.State != state {
			if err := tx.Secrets().SetVersionState(ctx, rec.ID, version, state); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, registry.AuditEvent{Action: action, Target: name,
			Detail: map[string]string{"version": strconv.Itoa(version), "from": string(v.State)}})
	})
	if err != nil {
		return err
	}
	s.log.Info("secret version "+string(state), "secret", name, "version", version, "actor", actorOf(ctx))
	return nil
}

// Grant lets repository repo Access the secret (Secret Manager's accessor
// role). Granting twice is not an error.
func (s *Service) Grant(ctx context.Context, name, repo string) error {
	return s.grant(ctx, "secrets.Grant", "secret.grant", name, repo, true)
}

// Revoke withdraws repo's grant; its next Access is refused.
func (s *Service) Revoke(ctx context.Context, name, repo string) error {
	return s.grant(ctx, "secrets.Revoke", "secret.revoke", name, repo, false)
}

func (s *Service) grant(ctx context.Context, op, action, name, repo string, on bool) error {
	if err := checkName(op, name); err != nil {
		return err
	}
	if !registry.ValidRepoName(repo) {
		return errs.Errorf(errs.Invalid, op, "%q is not a repository name", repo)
	}
	err := s.st.InTx(ctx, func(tx store.Store) error {
		rec, err := s.get(ctx, tx, name)
		if err != nil {
			return err
		}
		if on {
			err = tx.Secrets().Grant(ctx, rec.ID, repo)
			if errors.Is(err, store.ErrNotFound) {
				return errs.Errorf(errs.NotFound, op, "repository %q does not exist ('wharf repo list' shows them)", repo)
			}
		} else {
			err = tx.Secrets().Revoke(ctx, rec.ID, repo)
			if errors.Is(err, store.ErrNotFound) {
				return errs.Errorf(errs.NotFound, op, "repository %q has no grant on secret %q", repo, name)
			}
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, registry.AuditEvent{Action: action, Repo: repo, Target: name})
	})
	if err != nil {
		return err
	}
	s.log.Info(strings.Replace(action, ".", " ", 1), "secret", name, "repo", repo, "actor", actorOf(ctx))
	return nil
}

// RotateKEK re-wraps every data key under newKEK in one transaction and
// makes it the key new data keys are wrapped with. Values are not
// re-encrypted: their data keys do not change. Every data key must be
// readable with the current keys (the KEK and PreviousKEKs). It returns how
// many data keys were re-wrapped. After it, the old KEK reads nothing.
func (s *Service) RotateKEK(ctx context.Context, newKEK []byte) (int, error) {
	const op = "secrets.RotateKEK"
	s.rotateMu.Lock()
	defer s.rotateMu.Unlock()
	old := s.kr.Load()
	if len(newKEK) != KEKSize {
		return 0, errs.Errorf(errs.Invalid, op, "the new key-encryption key must be %d bytes", KEKSize)
	}
	newID := KEKID(newKEK)
	aead, err := newAEAD(newKEK)
	if err != nil {
		return 0, errs.E(errs.Internal, op, err)
	}
	// The new keyring reads with every key the old one did, so a data key
	// another process wrapped under an old KEK meanwhile stays readable.
	next := &keyring{primary: newID, aeads: make(map[string]cipher.AEAD, len(old.aeads)+1)}
	for id, a := range old.aeads {
		next.aeads[id] = a
	}
	next.aeads[newID] = aead
	var n int
	from := map[string]bool{}
	err = s.st.InTx(ctx, func(tx store.Store) error {
		recs, err := tx.Secrets().List(ctx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.KEKID == newID {
				continue // already wrapped by it (a rotation resumed)
			}
			dek, err := s.unwrapKey(old, r)
			if err != nil {
				return err
			}
			wrapped := aead.Seal(nil, nil, dek, dekAAD(r.ID, r.Name))
			if err := tx.Secrets().SetKey(ctx, r.ID, wrapped, newID); err != nil {
				return err
			}
			from[r.KEKID] = true
			n++
		}
		ids := make([]string, 0, len(from))
		for id := range from {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return s.audit(ctx, tx, registry.AuditEvent{Action: "secret.rotate_kek", Target: newID,
			Detail: map[string]string{"from": strings.Join(ids, ","), "to": newID, "secrets": strconv.Itoa(n)}})
	})
	if err != nil {
		return 0, err
	}
	s.kr.Store(next)
	s.log.Info("key-encryption key rotated", "kek_id", newID, "secrets", n, "actor", actorOf(ctx))
	return n, nil
}

// Access returns the plaintext of secret name at version ("latest" or a
// number) for use by repository repo, and the version number it resolved
// to. It fails with errs.PermissionDenied unless repo was granted access to
// the secret, errs.NotFound for an unknown secret or version, errs.Invalid
// for a disabled or destroyed version (or a "latest" with no enabled
// version). Every call is audited as secret.access with the repository,
// secret, version and outcome, never the value; if the audit entry cannot
// be written the value is not returned.
func (s *Service) Access(ctx context.Context, repo, name, version string) (value []byte, resolvedVersion int, err error) {
	const op = "secrets.Access"
	value, resolvedVersion, reason, err := s.access(ctx, repo, name, version)
	e := registry.AuditEvent{Action: "secret.access", Repo: repo, Target: name, Outcome: "ok",
		Detail: map[string]string{"requested": version}}
	if resolvedVersion > 0 {
		e.Detail["version"] = strconv.Itoa(resolvedVersion)
	}
	if err != nil {
		e.Outcome = "refused"
		e.Detail["reason"] = reason
	}
	if aerr := s.audit(ctx, s.st, e); aerr != nil {
		clear(value)
		if err == nil {
			err = aerr
		}
		return nil, 0, err
	}
	if err != nil {
		s.log.Debug("secret access refused", "secret", name, "requested", version, "repo", repo, "reason", reason)
		return nil, 0, err
	}
	s.log.Debug("secret accessed", "secret", name, "version", resolvedVersion, "repo", repo)
	return value, resolvedVersion, nil
}

// access does Access's work; reason is a short code for the audit log.
func (s *Service) access(ctx context.Context, repo, name, version string) (value []byte, resolved int, reason string, err error) {
	const op = "secrets.Access"
	if !ValidName(name) {
		return nil, 0, "invalid", errs.Errorf(errs.Invalid, op, "%q is not a valid secret name", name)
	}
	want, err := ParseVersion(version)
	if err != nil {
		return nil, 0, "invalid", err
	}
	rec, err := s.get(ctx, s.st, name)
	if err != nil {
		return nil, 0, "not_found", err
	}
	ok, err := s.st.Secrets().Granted(ctx, rec.ID, repo)
	if err != nil {
		return nil, 0, "error", err
	}
	if !ok {
		return nil, 0, "not_granted", errs.Errorf(errs.PermissionDenied, op,
			"repository %q may not use secret %q: an admin grants it with 'wharf secret grant %s --repo %s'", repo, name, name, repo)
	}
	var v store.SecretVersion
	if want == 0 {
		v, err = s.st.Secrets().LatestEnabled(ctx, rec.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, "no_enabled_version", errs.Errorf(errs.Invalid, op,
				"secret %q has no enabled version: add one with 'wharf secret add-version %s'", name, name)
		}
	} else {
		v, err = s.st.Secrets().GetVersion(ctx, rec.ID, want)
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, "not_found", errs.Errorf(errs.NotFound, op, "secret %q has no version %d", name, want)
		}
	}
	if err != nil {
		return nil, 0, "error", err
	}
	switch v.State {
	case store.SecretEnabled:
	case store.SecretDisabled:
		return nil, v.Version, "disabled", errs.Errorf(errs.Invalid, op,
			"version %d of secret %q is disabled: enable it or refer to another version", v.Version, name)
	default:
		return nil, v.Version, "destroyed", errs.Errorf(errs.Invalid, op,
			"version %d of secret %q was destroyed: refer to another version", v.Version, name)
	}
	dek, err := s.unwrap(rec)
	if err != nil {
		return nil, v.Version, "decrypt_failed", err
	}
	value, err = dek.Open(nil, nil, v.Ciphertext, valueAAD(rec.ID, v.Version, name))
	if err != nil {
		s.log.Error("secret version failed to decrypt: its stored ciphertext was altered or belongs to another row",
			"secret", name, "version", v.Version)
		return nil, v.Version, "decrypt_failed", errs.Errorf(errs.Internal, op,
			"version %d of secret %q cannot be decrypted: the stored ciphertext was altered or moved from another row", v.Version, name)
	}
	return value, v.Version, "", nil
}

func (s *Service) get(ctx context.Context, st store.Store, name string) (store.SecretRecord, error) {
	rec, err := st.Secrets().Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return rec, errs.Errorf(errs.NotFound, "secrets", "secret %q does not exist ('wharf secret list' shows them)", name)
	}
	return rec, err
}

// unwrap returns the AEAD of a secret's data key.
func (s *Service) unwrap(rec store.SecretRecord) (cipher.AEAD, error) {
	dek, err := s.unwrapKey(s.kr.Load(), rec)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	a, err := newAEAD(dek)
	if err != nil {
		return nil, errs.E(errs.Internal, "secrets.unwrap", err)
	}
	return a, nil
}

func (s *Service) unwrapKey(kr *keyring, rec store.SecretRecord) ([]byte, error) {
	const op = "secrets.unwrap"
	kek := kr.aeads[rec.KEKID]
	if kek == nil {
		return nil, errs.Errorf(errs.Internal, op,
			"the data key of secret %q is wrapped by key-encryption key %s, which this process does not have "+
				"(configured: %s); set secrets.kek_file or secrets.previous_kek_files to it", rec.Name, rec.KEKID, kr.ids())
	}
	dek, err := kek.Open(nil, nil, rec.WrappedKey, dekAAD(rec.ID, rec.Name))
	if err != nil {
		return nil, errs.Errorf(errs.Internal, op,
			"the data key of secret %q cannot be unwrapped with key-encryption key %s: the stored key was altered or moved from another secret", rec.Name, rec.KEKID)
	}
	return dek, nil
}

func (kr *keyring) ids() string {
	ids := make([]string, 0, len(kr.aeads))
	for id := range kr.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// dekAAD binds a wrapped data key to its secret's row: a wrapped key
// copied to another secret does not unwrap.
func dekAAD(id int64, name string) []byte {
	b := make([]byte, 0, 32+len(name))
	b = append(b, "wharf/secret-dek/v1\x00"...)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	return append(b, name...)
}

// valueAAD binds a sealed value to its secret and version: a ciphertext
// copied onto another version or secret does not decrypt.
func valueAAD(id int64, version int, name string) []byte {
	b := make([]byte, 0, 48+len(name))
	b = append(b, "wharf/secret-value/v1\x00"...)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	b = binary.BigEndian.AppendUint64(b, uint64(version))
	return append(b, name...)
}

// audit appends an event through st (a transaction's store when the event
// belongs to a change), stamping time and actor.
func (s *Service) audit(ctx context.Context, st store.Store, e registry.AuditEvent) error {
	e.Time = s.now().UTC()
	e.Actor = actorOf(ctx)
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	if err := st.Audit().Append(ctx, e); err != nil {
		return errs.E(errs.KindOf(err), "secrets.audit", fmt.Errorf("recording %s in the audit log: %w", e.Action, err))
	}
	return nil
}
