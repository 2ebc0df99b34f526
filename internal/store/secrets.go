package store

import (
	"context"
	"time"
)

// SecretState is the state of one secret version.
type SecretState string

const (
	SecretEnabled   SecretState = "enabled"
	SecretDisabled  SecretState = "disabled"
	SecretDestroyed SecretState = "destroyed" // final; the ciphertext is gone
)

// SecretRecord is a secret's row: its name and its data key, wrapped by a
// key-encryption key. The store never sees a plaintext key or value; package
// secrets owns the cryptography.
type SecretRecord struct {
	ID         int64
	Name       string
	WrappedKey []byte // the data key sealed under the KEK named by KEKID
	KEKID      string
	CreatedAt  time.Time
}

// SecretVersion is one numbered value of a secret.
type SecretVersion struct {
	SecretID int64
	Version  int // 1, 2, ...
	State    SecretState
	// Ciphertext is the sealed value; nil when the version is destroyed, and
	// in the results of ListVersions, which never reads it.
	Ciphertext []byte
	CreatedAt  time.Time
}

// Secrets persists the encrypted secret store.
type Secrets interface {
	// Create inserts r, setting ID and CreatedAt; ErrExists if the name is
	// taken.
	Create(ctx context.Context, r *SecretRecord) error
	Get(ctx context.Context, name string) (SecretRecord, error)
	List(ctx context.Context) ([]SecretRecord, error) // by name
	// SetKey replaces the wrapped data key and its KEK ID (creation and KEK
	// rotation).
	SetKey(ctx context.Context, id int64, wrapped []byte, kekID string) error

	// AddVersion inserts v with v.Version set by the caller (the number is
	// sealed into the ciphertext) and sets CreatedAt; ErrExists if that
	// number is taken, ErrNotFound if the secret is missing.
	AddVersion(ctx context.Context, v *SecretVersion) error
	// MaxVersion returns the highest version number of the secret, 0 when
	// it has none.
	MaxVersion(ctx context.Context, secretID int64) (int, error)
	GetVersion(ctx context.Context, secretID int64, version int) (SecretVersion, error)
	// LatestEnabled returns the enabled version with the highest number;
	// ErrNotFound when no version is enabled.
	LatestEnabled(ctx context.Context, secretID int64) (SecretVersion, error)
	// ListVersions returns the secret's versions by number, without their
	// ciphertexts.
	ListVersions(ctx context.Context, secretID int64) ([]SecretVersion, error)
	// SetVersionState changes a version's state. Moving to
	// SecretDestroyed deletes the ciphertext. ErrNotFound if missing.
	SetVersionState(ctx context.Context, secretID int64, version int, state SecretState) error

	// Grant lets repository repo access the secret; granting twice is not
	// an error. ErrNotFound when the repository or secret is missing.
	// Grants go with their repository when it is deleted.
	Grant(ctx context.Context, secretID int64, repo string) error
	// Revoke withdraws a grant; ErrNotFound when there was none.
	Revoke(ctx context.Context, secretID int64, repo string) error
	Granted(ctx context.Context, secretID int64, repo string) (bool, error)
	Grants(ctx context.Context, secretID int64) ([]string, error) // by repo name
}
