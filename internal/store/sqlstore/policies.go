package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/store"
)

// Policies returns the trust-policy store.
func (s *Store) Policies() store.Policies { return policies{s} }

var _ store.Policies = policies{}

type policies struct{ s *Store }

const policyCols = `id, name, issuer, config, created_at, created_by`

func scanPolicy(sc interface{ Scan(...any) error }) (store.PolicyRecord, error) {
	var p store.PolicyRecord
	var created int64
	err := sc.Scan(&p.ID, &p.Name, &p.Issuer, &p.Config, &created, &p.CreatedBy)
	p.CreatedAt = fromMicros(created)
	return p, err
}

func (x policies) Create(ctx context.Context, p *store.PolicyRecord) error {
	const op = "sqlstore.Policies.Create"
	now := x.s.nowTime()
	config := p.Config
	if config == nil {
		config = []byte{}
	}
	var id int64
	err := x.s.wr().QueryRowContext(ctx,
		`INSERT INTO policies (name, issuer, config, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		p.Name, p.Issuer, config, now.UnixMicro(), p.CreatedBy).Scan(&id)
	if x.s.d.unique(err) {
		return exists(op, "policy %q already exists", p.Name)
	}
	if err != nil {
		return x.s.d.wrap(op, err)
	}
	p.ID, p.CreatedAt = id, now
	return nil
}

func (x policies) Get(ctx context.Context, name string) (store.PolicyRecord, error) {
	const op = "sqlstore.Policies.Get"
	p, err := scanPolicy(x.s.rd().QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.PolicyRecord{}, notFound(op, "policy %q not found", name)
	}
	if err != nil {
		return store.PolicyRecord{}, x.s.d.wrap(op, err)
	}
	return p, nil
}

func (x policies) List(ctx context.Context) ([]store.PolicyRecord, error) {
	const op = "sqlstore.Policies.List"
	return queryAll(ctx, x.s, op, scanPolicy, `SELECT `+policyCols+` FROM policies ORDER BY name`)
}

func (x policies) Delete(ctx context.Context, name string) error {
	const op = "sqlstore.Policies.Delete"
	res, err := x.s.wr().ExecContext(ctx, `DELETE FROM policies WHERE name = $1`, name)
	return x.s.affected(op, res, err, "policy %q not found", name)
}
