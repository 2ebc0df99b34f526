package adminapi

import (
	"net/http"
	"strconv"

	"github.com/wharf-dev/wharf/internal/auth"
	"github.com/wharf-dev/wharf/internal/errs"
	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
	"github.com/wharf-dev/wharf/internal/store"
)

const maxAuditLimit = 1000

// listAudit returns audit events, newest first. The whole log needs an
// unrestricted admin token; with ?repo= an admin token for that repository
// is enough.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	const op = "adminapi.listAudit"
	q := r.URL.Query()
	f := store.AuditFilter{Repo: q.Get("repo"), Action: q.Get("action")}
	if f.Repo != "" {
		if err := p.Check(registry.Admin, f.Repo, ""); err != nil {
			return err
		}
	} else if err := requireGlobalAdmin(p); err != nil {
		return err
	}
	if pr := q.Get("project"); pr != "" {
		// Events record the normalised name.
		f.Project = pypi.Normalize(pr)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			return errs.Errorf(errs.Invalid, op, "limit must be a number from 1 to %d", maxAuditLimit)
		}
		f.Limit = n
	}
	events, err := a.store.Audit().List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]AuditEvent, len(events))
	for i, e := range events {
		out[i] = AuditEvent{
			ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, Repo: e.Repo,
			Project: e.Project, Target: e.Target, Outcome: e.Outcome, Detail: e.Detail,
		}
	}
	return writeJSON(w, http.StatusOK, out)
}
