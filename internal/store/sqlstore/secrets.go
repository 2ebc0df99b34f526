package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/store"
)

// Secrets returns the encrypted secret store's tables.
func (s *Store) Secrets() store.Secrets { return secretsTbl{s} }

var _ store.Secrets = secretsTbl{}

type secretsTbl struct{ s *Store }

const secretCols = `id, name, wrapped_key, kek_id, created_at`

func scanSecret(sc interface{ Scan(...any) error }) (store.SecretRecord, error) {
	var r store.SecretRecord
	var created int64
	err := sc.Scan(&r.ID, &r.Name, &r.WrappedKey, &r.KEKID, &created)
	r.CreatedAt = fromMicros(created)
	return r, err
}

func (x secretsTbl) Create(ctx context.Context, r *store.SecretRecord) error {
	const op = "sqlstore.Secrets.Create"
	now := x.s.nowTime()
	key := r.WrappedKey
	if key == nil {
		key = []byte{} // NOT NULL; nil would bind as NULL
	}
	var id int64
	err := x.s.wr().QueryRowContext(ctx,
		`INSERT INTO secrets (name, wrapped_key, kek_id, created_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (name) DO NOTHING RETURNING id`,
		r.Name, key, r.KEKID, now.UnixMicro()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return exists(op, "secret %q already exists", r.Name)
	}
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	r.ID, r.CreatedAt = id, now
	return nil
}

func (x secretsTbl) Get(ctx context.Context, name string) (store.SecretRecord, error) {
	const op = "sqlstore.Secrets.Get"
	r, err := scanSecret(x.s.rd().QueryRowContext(ctx, `SELECT `+secretCols+` FROM secrets WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.SecretRecord{}, notFound(op, "secret %q not found", name)
	}
	if err != nil {
		return store.SecretRecord{}, x.s.d.wrap(op, err)
	}
	return r, nil
}

func (x secretsTbl) List(ctx context.Context) ([]store.SecretRecord, error) {
	const op = "sqlstore.Secrets.List"
	return queryAll(ctx, x.s, op, scanSecret, `SELECT `+secretCols+` FROM secrets ORDER BY name`)
}

func (x secretsTbl) SetKey(ctx context.Context, id int64, wrapped []byte, kekID string) error {
	const op = "sqlstore.Secrets.SetKey"
	if wrapped == nil {
		wrapped = []byte{}
	}
	res, err := x.s.wr().ExecContext(ctx, `UPDATE secrets SET wrapped_key = $2, kek_id = $3 WHERE id = $1`, id, wrapped, kekID)
	return x.s.affected(op, res, err, "secret %d not found", id)
}

func (x secretsTbl) AddVersion(ctx context.Context, v *store.SecretVersion) error {
	const op = "sqlstore.Secrets.AddVersion"
	now := x.s.nowTime()
	state := v.State
	if state == "" {
		state = store.SecretEnabled
	}
	var ct any = v.Ciphertext
	if state == store.SecretDestroyed {
		ct = nil
	} else if v.Ciphertext == nil {
		ct = []byte{}
	}
	var one int
	err := x.s.wr().QueryRowContext(ctx,
		`INSERT INTO secret_versions (secret_id, version, state, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (secret_id, version) DO NOTHING RETURNING 1`,
		v.SecretID, v.Version, string(state), ct, now.UnixMicro()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return exists(op, "version %d of secret %d already exists", v.Version, v.SecretID)
	case x.s.d.foreignKey(err):
		return notFound(op, "secret %d not found", v.SecretID)
	case err != nil:
		return x.s.d.wrap(op, err)
	}
	v.State, v.CreatedAt = state, now
	return nil
}

func (x secretsTbl) MaxVersion(ctx context.Context, secretID int64) (int, error) {
	const op = "sqlstore.Secrets.MaxVersion"
	var n int
	// Read where the write goes: inside a transaction this sees its own
	// inserts and, on SQLite, holds the write lock, so numbers never race.
	err := x.s.wr().QueryRowContext(ctx,
		`SELECT COALESCE(MAX(version), 0) FROM secret_versions WHERE secret_id = $1`, secretID).Scan(&n)
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	return n, nil
}

const versionCols = `secret_id, version, state, ciphertext, created_at`

func scanVersion(sc interface{ Scan(...any) error }) (store.SecretVersion, error) {
	var v store.SecretVersion
	var state string
	var created int64
	err := sc.Scan(&v.SecretID, &v.Version, &state, &v.Ciphertext, &created)
	v.State, v.CreatedAt = store.SecretState(state), fromMicros(created)
	return v, err
}

func (x secretsTbl) GetVersion(ctx context.Context, secretID int64, version int) (store.SecretVersion, error) {
	const op = "sqlstore.Secrets.GetVersion"
	v, err := scanVersion(x.s.rd().QueryRowContext(ctx,
		`SELECT `+versionCols+` FROM secret_versions WHERE secret_id = $1 AND version = $2`, secretID, version))
	if errors.Is(err, sql.ErrNoRows) {
		return store.SecretVersion{}, notFound(op, "version %d not found", version)
	}
	if err != nil {
		return store.SecretVersion{}, x.s.d.wrap(op, err)
	}
	return v, nil
}

func (x secretsTbl) LatestEnabled(ctx context.Context, secretID int64) (store.SecretVersion, error) {
	const op = "sqlstore.Secrets.LatestEnabled"
	v, err := scanVersion(x.s.rd().QueryRowContext(ctx,
		`SELECT `+versionCols+` FROM secret_versions WHERE secret_id = $1 AND state = 'enabled'
		 ORDER BY version DESC LIMIT 1`, secretID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.SecretVersion{}, notFound(op, "no enabled version")
	}
	if err != nil {
		return store.SecretVersion{}, x.s.d.wrap(op, err)
	}
	return v, nil
}

func (x secretsTbl) ListVersions(ctx context.Context, secretID int64) ([]store.SecretVersion, error) {
	const op = "sqlstore.Secrets.ListVersions"
	rows, err := x.s.rd().QueryContext(ctx,
		`SELECT secret_id, version, state, created_at FROM secret_versions WHERE secret_id = $1 ORDER BY version`, secretID)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	var out []store.SecretVersion
	for rows.Next() {
		var v store.SecretVersion
		var state string
		var created int64
		if err := rows.Scan(&v.SecretID, &v.Version, &state, &created); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
		v.State, v.CreatedAt = store.SecretState(state), fromMicros(created)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return out, nil
}

func (x secretsTbl) SetVersionState(ctx context.Context, secretID int64, version int, state store.SecretState) error {
	const op = "sqlstore.Secrets.SetVersionState"
	// Destroying clears the ciphertext in the same statement, so the
	// table's CHECK holds and no value outlives its destruction.
	res, err := x.s.wr().ExecContext(ctx,
		`UPDATE secret_versions SET state = $3,
		   ciphertext = CASE WHEN $3 = 'destroyed' THEN NULL ELSE ciphertext END
		 WHERE secret_id = $1 AND version = $2`, secretID, version, string(state))
	return x.s.affected(op, res, err, "version %d not found", version)
}

func (x secretsTbl) Grant(ctx context.Context, secretID int64, repo string) error {
	const op = "sqlstore.Secrets.Grant"
	_, err := x.s.wr().ExecContext(ctx,
		`INSERT INTO secret_grants (secret_id, repo, created_at) VALUES ($1, $2, $3)
		 ON CONFLICT (secret_id, repo) DO NOTHING`, secretID, repo, x.s.nowTime().UnixMicro())
	if x.s.d.foreignKey(err) {
		return notFound(op, "repository %q or secret %d not found", repo, secretID)
	}
	return x.s.d.wrap(op, err)
}

func (x secretsTbl) Revoke(ctx context.Context, secretID int64, repo string) error {
	const op = "sqlstore.Secrets.Revoke"
	res, err := x.s.wr().ExecContext(ctx, `DELETE FROM secret_grants WHERE secret_id = $1 AND repo = $2`, secretID, repo)
	return x.s.affected(op, res, err, "repository %q has no grant on this secret", repo)
}

func (x secretsTbl) Granted(ctx context.Context, secretID int64, repo string) (bool, error) {
	const op = "sqlstore.Secrets.Granted"
	var one int
	err := x.s.rd().QueryRowContext(ctx,
		`SELECT 1 FROM secret_grants WHERE secret_id = $1 AND repo = $2`, secretID, repo).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, x.s.d.wrap(op, err)
	}
	return true, nil
}

func (x secretsTbl) Grants(ctx context.Context, secretID int64) ([]string, error) {
	const op = "sqlstore.Secrets.Grants"
	rows, err := x.s.rd().QueryContext(ctx, `SELECT repo FROM secret_grants WHERE secret_id = $1 ORDER BY repo`, secretID)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return out, nil
}
