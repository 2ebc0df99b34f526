package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

// Publishers returns the trusted-publisher store. (store.Store does not
// list it yet; callers reach it through this method or an interface
// assertion.)
func (s *Store) Publishers() store.Publishers { return publishers{s} }

// Replay returns the OIDC replay guard.
func (s *Store) Replay() store.Replay { return replay{s} }

var (
	_ store.Publishers = publishers{}
	_ store.Replay     = replay{}
)

type publishers struct{ s *Store }

const publisherCols = `id, repo, project, pending, kind, issuer, config, created_at, created_by`

func scanPublisher(sc interface{ Scan(...any) error }) (registry.PublisherRecord, error) {
	var p registry.PublisherRecord
	var created int64
	err := sc.Scan(&p.ID, &p.Repo, &p.Project, &p.Pending, &p.Kind, &p.Issuer, &p.Config, &created, &p.CreatedBy)
	p.CreatedAt = fromMicros(created)
	return p, err
}

func (x publishers) Create(ctx context.Context, p *registry.PublisherRecord) error {
	const op = "sqlstore.Publishers.Create"
	now := x.s.nowTime()
	config := p.Config
	if config == nil {
		config = []byte{} // NOT NULL; nil would bind as NULL
	}
	var id int64
	err := x.s.wr().QueryRowContext(ctx,
		`INSERT INTO publishers (repo, project, pending, kind, issuer, config, created_at, created_by)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.Repo, p.Project, p.Pending, p.Kind, p.Issuer, config, now.UnixMicro(), p.CreatedBy).Scan(&id)
	if x.s.d.foreignKey(err) {
		return notFound(op, "repository %q not found", p.Repo)
	}
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	p.ID, p.CreatedAt = id, now
	return nil
}

func (x publishers) Get(ctx context.Context, id int64) (registry.PublisherRecord, error) {
	const op = "sqlstore.Publishers.Get"
	p, err := scanPublisher(x.s.rd().QueryRowContext(ctx, `SELECT `+publisherCols+` FROM publishers WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.PublisherRecord{}, notFound(op, "publisher %d not found", id)
	}
	if err != nil {
		return registry.PublisherRecord{}, x.s.d.wrap(op, err)
	}
	return p, nil
}

func (x publishers) List(ctx context.Context, repo, project string) ([]registry.PublisherRecord, error) {
	return x.list(ctx, "sqlstore.Publishers.List",
		`SELECT `+publisherCols+` FROM publishers
		 WHERE ($1 = '' OR repo = $1) AND ($2 = '' OR project = $2) ORDER BY id`, repo, project)
}

func (x publishers) ForIssuer(ctx context.Context, issuer string) ([]registry.PublisherRecord, error) {
	return x.list(ctx, "sqlstore.Publishers.ForIssuer", qPublishersForIssuer, issuer)
}

// Queries run on every trusted-publishing exchange, prepared once.
const (
	qPublishersForIssuer = `SELECT ` + publisherCols + ` FROM publishers WHERE issuer = $1 ORDER BY id`
	qReplayClaim         = `INSERT INTO oidc_replay (issuer, jti, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE oidc_replay.expires_at <= $4
		 RETURNING 1`
)

func (x publishers) list(ctx context.Context, op, query string, args ...any) ([]registry.PublisherRecord, error) {
	return queryAll(ctx, x.s, op, scanPublisher, query, args...)
}

func (x publishers) Delete(ctx context.Context, id int64) error {
	const op = "sqlstore.Publishers.Delete"
	res, err := x.s.wr().ExecContext(ctx, `DELETE FROM publishers WHERE id = $1`, id)
	return x.s.affected(op, res, err, "publisher %d not found", id)
}

// Reify is idempotent: reifying a normal publisher is not an error.
func (x publishers) Reify(ctx context.Context, id int64) error {
	const op = "sqlstore.Publishers.Reify"
	res, err := x.s.wr().ExecContext(ctx, `UPDATE publishers SET pending = $2 WHERE id = $1`, id, false)
	return x.s.affected(op, res, err, "publisher %d not found", id)
}

type replay struct{ s *Store }

// Claim is one upsert: a new (issuer, jti) inserts; an existing one is
// replaced only when it has expired (by the store clock). A row comes back
// exactly when the claim is fresh, so two replicas racing on one token
// cannot both win.
func (x replay) Claim(ctx context.Context, issuer, jti string, until time.Time) (bool, error) {
	const op = "sqlstore.Replay.Claim"
	var one int
	err := x.s.wr().QueryRowContext(ctx, qReplayClaim,
		issuer, jti, until.UnixMicro(), x.s.nowTime().UnixMicro()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, x.s.d.wrap(op, err)
	}
	return true, nil
}

func (x replay) DeleteExpired(ctx context.Context, cutoff time.Time) (int, error) {
	const op = "sqlstore.Replay.DeleteExpired"
	res, err := x.s.wr().ExecContext(ctx, `DELETE FROM oidc_replay WHERE expires_at < $1`, cutoff.UnixMicro())
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, x.s.d.wrap(op, err)
	}
	return int(n), nil
}
