package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wharf-dev/wharf/internal/config"
	"github.com/wharf-dev/wharf/internal/secrets"
	"github.com/wharf-dev/wharf/internal/store"
)

// KEKFiles are where an installation keeps its key-encryption keys when
// the configuration names none: <data_dir>/kek, and <data_dir>/kek.new
// while `wharf secret rotate-kek` replaces it.
func KEKFiles(cfg *config.Config) (current, next string) {
	return filepath.Join(cfg.DataDir, "kek"), filepath.Join(cfg.DataDir, "kek.new")
}

// LoadKEKs returns the key-encryption key the configuration names and the
// previous ones still accepted for reading. With no secrets.kek_file or
// secrets.kek_env, the key is <data_dir>/kek, generated at first use (and
// the log says so: production deployments should supply their own, kept
// apart from the database and its backups), except on PostgreSQL, whose
// replicas must share one configured key; a <data_dir>/kek.new left by an
// interrupted rotation is accepted for reading.
func LoadKEKs(cfg *config.Config, log *slog.Logger) (kek []byte, previous [][]byte, err error) {
	for _, f := range cfg.Secrets.PreviousKEKFiles {
		k, err := secrets.ReadKEKFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("secrets.previous_kek_files: %w", err)
		}
		previous = append(previous, k)
	}
	if cfg.Secrets.KEK != "" {
		kek, err = secrets.ParseKEK(cfg.Secrets.KEK.Value())
		if err != nil {
			field := "secrets.kek_file"
			if cfg.Secrets.KEKEnv != "" {
				field = "secrets.kek_env (" + cfg.Secrets.KEKEnv + ")"
			}
			return nil, nil, fmt.Errorf("%s: %w", field, err)
		}
		return kek, previous, nil
	}
	if err := CheckSharedKEK(cfg); err != nil {
		return nil, nil, err
	}
	current, next := KEKFiles(cfg)
	kek, created, err := secrets.EnsureKEKFile(current)
	if err != nil {
		return nil, nil, fmt.Errorf("secret store key %s: %w", current, err)
	}
	if created {
		log.Warn("generated a key-encryption key for the secret store; production deployments should supply their own "+
			"with secrets.kek_file or secrets.kek_env and keep it apart from the database and its backups (see docs/secrets.md)",
			"kek_file", current, "kek_id", secrets.KEKID(kek))
	}
	if k, err := secrets.ReadKEKFile(next); err == nil {
		previous = append(previous, k)
	} else if !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("secret store key %s: %w", next, err)
	}
	return kek, previous, nil
}

// CheckSharedKEK refuses a PostgreSQL configuration that names no
// key-encryption key. Replicas share the database but not their data_dir:
// keys generated per replica would each wrap secrets the others cannot
// read. A <data_dir>/kek that already exists is accepted.
func CheckSharedKEK(cfg *config.Config) error {
	if cfg.Database.Driver != "postgres" || cfg.Secrets.KEK != "" { // KEK: read from kek_file or kek_env at load
		return nil
	}
	current, _ := KEKFiles(cfg)
	if _, err := os.Stat(current); errors.Is(err, fs.ErrNotExist) {
		return errors.New("secrets.kek_file (or secrets.kek_env) is required with database.driver postgres: " +
			"every replica sharing the database must use the same key-encryption key " +
			"(make one with: umask 077; head -c 32 /dev/urandom | base64 > /etc/wharf/kek; see docs/deployment.md)")
	}
	return nil
}

// newSecrets builds the secret store service.
func newSecrets(cfg *config.Config, st store.Store, log *slog.Logger) (*secrets.Service, error) {
	kek, previous, err := LoadKEKs(cfg, log)
	if err != nil {
		return nil, err
	}
	return secrets.New(secrets.Config{Store: st, KEK: kek, PreviousKEKs: previous, Logger: log})
}
