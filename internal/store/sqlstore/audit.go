package sqlstore

import (
	"context"
	"encoding/json"
	"math"
	"strings"

	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

const qAuditInsert = `INSERT INTO audit_events (time, actor, action, repo, project, target, outcome, detail)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

type audit struct{ s *Store }

// Append stores e; a zero Time is set from the store clock. The ID is
// assigned by the database and not reported back (Append takes a value).
func (x audit) Append(ctx context.Context, e registry.AuditEvent) error {
	const op = "sqlstore.Audit.Append"
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return errs.E(errs.Internal, op, err)
	}
	at := e.Time
	if at.IsZero() {
		at = x.s.nowTime()
	}
	_, err = x.s.wr().ExecContext(ctx, qAuditInsert,
		at.UnixMicro(), e.Actor, e.Action, e.Repo, e.Project, e.Target, e.Outcome, string(detail))
	return x.s.d.wrap(op, err)
}

// List uses one fixed query whose empty parameters switch a condition off,
// so the SQL text never varies. An action prefix "oidc." becomes the range
// ["oidc.", "oidc/"): '/' is the byte after '.', and a range can use an
// index where LIKE would need escaping.
func (x audit) List(ctx context.Context, f store.AuditFilter) ([]registry.AuditEvent, error) {
	const op = "sqlstore.Audit.List"
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var exact, lo, hi string
	if strings.HasSuffix(f.Action, ".") {
		lo, hi = f.Action, f.Action[:len(f.Action)-1]+"/"
	} else {
		exact = f.Action
	}
	since := int64(math.MinInt64)
	if !f.Since.IsZero() {
		since = f.Since.UnixMicro()
	}
	rows, err := x.s.rd().QueryContext(ctx,
		`SELECT id, time, actor, action, repo, project, target, outcome, detail
		 FROM audit_events
		 WHERE ($1 = '' OR repo = $1)
		   AND ($2 = '' OR project = $2)
		   AND ($3 = '' OR action = $3)
		   AND ($4 = '' OR (action >= $4 AND action < $5))
		   AND time >= $6
		   AND ($8 = '' OR target = $8)
		 ORDER BY time DESC, id DESC
		 LIMIT $7`,
		f.Repo, f.Project, exact, lo, hi, since, limit, f.Target)
	if err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	defer rows.Close()
	var out []registry.AuditEvent
	for rows.Next() {
		var e registry.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Repo, &e.Project, &e.Target, &e.Outcome, &detail); err != nil {
			return nil, x.s.d.wrap(op, err)
		}
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, errs.Errorf(errs.Internal, op, "audit event %d: bad stored detail: %w", e.ID, err)
		}
		e.Time = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, x.s.d.wrap(op, err)
	}
	return out, nil
}
