package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wharf-dev/wharf/internal/store"
)

var _ store.RemoteBlobs = (*Store)(nil)

// RemoteBlobKeys implements store.RemoteBlobs: one pass over remote_files
// per sweep, instead of a scan per candidate blob (sha256 is not the
// leading column of any index there).
func (s *Store) RemoteBlobKeys(ctx context.Context) (map[string]struct{}, error) {
	const op = "sqlstore.RemoteBlobKeys"
	rows, err := s.rq.QueryContext(ctx, `SELECT sha256, metadata_sha256 FROM remote_files`)
	if err != nil {
		return nil, s.d.wrap(op, err)
	}
	defer rows.Close()
	keys := map[string]struct{}{}
	for rows.Next() {
		var k, m string
		if err := rows.Scan(&k, &m); err != nil {
			return nil, s.d.wrap(op, err)
		}
		keys[k] = struct{}{}
		if m != "" {
			keys[m] = struct{}{}
		}
	}
	return keys, s.d.wrap(op, rows.Err())
}

// RemoteBlobInUse implements store.RemoteBlobs.
func (s *Store) RemoteBlobInUse(ctx context.Context, sha256 string) (bool, error) {
	var one int
	err := s.rq.QueryRowContext(ctx,
		`SELECT 1 FROM remote_files WHERE sha256 = $1 OR metadata_sha256 = $1 LIMIT 1`, sha256).Scan(&one)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return false, s.d.wrap("sqlstore.RemoteBlobInUse", err)
}
