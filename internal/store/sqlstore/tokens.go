package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
)

type tokens struct{ s *Store }

const tokenCols = `id, secret_hash, description, scope, created_at, expires_at, revoked_at, last_used_at, origin`

const (
	qTokenInsert = `INSERT INTO tokens (` + tokenCols + `)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		 ON CONFLICT (id) DO NOTHING`
	qTokenGet   = `SELECT ` + tokenCols + ` FROM tokens WHERE id = $1`
	qTokenTouch = `UPDATE tokens SET last_used_at = $2 WHERE id = $1`
)

func scanToken(sc interface{ Scan(...any) error }) (registry.Token, error) {
	var t registry.Token
	var scope string
	var created int64
	var expires, revoked, used sql.NullInt64
	if err := sc.Scan(&t.ID, &t.SecretHash, &t.Description, &scope, &created, &expires, &revoked, &used, &t.Origin); err != nil {
		return registry.Token{}, err
	}
	if err := json.Unmarshal([]byte(scope), &t.Scope); err != nil {
		return registry.Token{}, errs.Errorf(errs.Internal, "sqlstore.tokens", "token %s: bad stored scope: %w", t.ID, err)
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromNullMicros(expires), fromNullMicros(revoked), fromNullMicros(used)
	return t, nil
}

// Create stores t; a zero CreatedAt is set from the store clock. Times are
// kept to the microsecond.
func (x tokens) Create(ctx context.Context, t registry.Token) error {
	const op = "sqlstore.Tokens.Create"
	if t.ID == "" || len(t.SecretHash) == 0 {
		return errs.E(errs.Invalid, op, errors.New("a token needs an ID and a secret hash"))
	}
	scope, err := json.Marshal(t.Scope)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = x.s.nowTime()
	}
	res, err := x.s.wr().ExecContext(ctx, qTokenInsert,
		t.ID, t.SecretHash, t.Description, string(scope), created.UnixMicro(),
		toNullMicros(t.ExpiresAt), toNullMicros(t.RevokedAt), toNullMicros(t.LastUsedAt), t.Origin)
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return x.s.d.wrap(op, err)
	} else if n == 0 {
		return exists(op, "token %s already exists", t.ID)
	}
	return nil
}

func (x tokens) Get(ctx context.Context, id string) (registry.Token, error) {
	const op = "sqlstore.Tokens.Get"
	t, err := scanToken(x.s.rd().QueryRowContext(ctx, qTokenGet, id))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Token{}, notFound(op, "token %s not found", id)
	}
	if err != nil {
		return registry.Token{}, x.s.d.wrap(op, err)
	}
	return t, nil
}

func (x tokens) List(ctx context.Context) ([]registry.Token, error) {
	const op = "sqlstore.Tokens.List"
	return queryAll(ctx, x.s, op, scanToken, `SELECT `+tokenCols+` FROM tokens ORDER BY created_at DESC, id`)
}

// Revoke keeps the first revocation time: revoking twice is not an error and
// does not rewrite history.
func (x tokens) Revoke(ctx context.Context, id string, at time.Time) error {
	const op = "sqlstore.Tokens.Revoke"
	if at.IsZero() {
		at = x.s.nowTime()
	}
	res, err := x.s.wr().ExecContext(ctx,
		`UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, at.UnixMicro())
	return x.s.affected(op, res, err, "token %s not found", id)
}

func (x tokens) Touch(ctx context.Context, id string, at time.Time) error {
	const op = "sqlstore.Tokens.Touch"
	if at.IsZero() {
		at = x.s.nowTime()
	}
	res, err := x.s.wr().ExecContext(ctx, qTokenTouch, id, at.UnixMicro())
	return x.s.affected(op, res, err, "token %s not found", id)
}

func (x tokens) DeleteExpired(ctx context.Context, cutoff time.Time) (int, error) {
	const op = "sqlstore.Tokens.DeleteExpired"
	res, err := x.s.wr().ExecContext(ctx,
		`DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at < $1`, cutoff.UnixMicro())
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	return int(n), nil
}
