package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wharf-dev/wharf/internal/store"
)

// Cluster returns the replica coordination state (migration 0006).
func (s *Store) Cluster() store.Cluster { return cluster{s} }

type cluster struct{ s *Store }

var _ store.Cluster = cluster{}

func (x cluster) Serials(ctx context.Context) (map[int64]int64, error) {
	const op = "sqlstore.Cluster.Serials"
	rows, err := x.s.rd().QueryContext(ctx, `SELECT repo_id, serial FROM repo_serials`)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	m := make(map[int64]int64)
	for rows.Next() {
		var id, serial int64
		if err := rows.Scan(&id, &serial); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
		m[id] = serial
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return m, nil
}

// AcquireLease is one upsert, like Replay.Claim: the update only happens
// when the lease expired or is the holder's own, and a row comes back
// exactly when holder holds the lease, so two replicas cannot both win.
func (x cluster) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	const op = "sqlstore.Cluster.AcquireLease"
	var one int
	err := x.s.wr().QueryRowContext(ctx,
		`INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		 WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder
		 RETURNING 1`,
		name, holder, until.UnixMicro(), now.UnixMicro()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, x.s.d.wrap(op, err)
	}
	return true, nil
}

func (x cluster) ReleaseLease(ctx context.Context, name, holder string) error {
	const op = "sqlstore.Cluster.ReleaseLease"
	if _, err := x.s.wr().ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return x.s.d.wrap(op, err)
	}
	return nil
}

// maxTxAttempts bounds InTx's runs of one transaction.
const maxTxAttempts = 5

// retryable reports a PostgreSQL error after which the whole transaction
// may simply be run again: 40001 serialization_failure, 40P01
// deadlock_detected.
func (d dialect) retryable(err error) bool {
	if d != postgresDialect || err == nil {
		return false
	}
	switch pgCode(err) {
	case "40001", "40P01":
		return true
	}
	return false
}
