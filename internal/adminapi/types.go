package adminapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/oidc"
	"github.com/wharf-dev/wharf/internal/registry"
)

// The wire types below are shared by the server and the Client, so the two
// cannot drift apart. Times are RFC 3339 in UTC; zero times are omitted.

// Repo is a repository as the API shows it.
type Repo struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Public      bool      `json:"public"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	// Remote and Virtual are the settings of those kinds (nil otherwise).
	Remote  *registry.RemoteSettings  `json:"remote,omitempty"`
	Virtual *registry.VirtualSettings `json:"virtual,omitempty"`
}

// CreateRepoRequest is the body of POST /api/v1/repos. Kind "" means
// "hosted". Public defaults to false: a repository is only readable without
// a token when someone said so.
type CreateRepoRequest struct {
	Name        string `json:"name"`
	Kind        string `json:"kind,omitempty"`
	Public      bool   `json:"public"`
	Description string `json:"description,omitempty"`
	// Remote holds a remote repository's settings (nil: a cache of PyPI
	// with the defaults); Virtual a virtual repository's (required).
	Remote  *registry.RemoteSettings  `json:"remote,omitempty"`
	Virtual *registry.VirtualSettings `json:"virtual,omitempty"`
}

// UpdateRepoRequest is the body of PATCH /api/v1/repos/{repo}; nil fields
// are left as they are.
type UpdateRepoRequest struct {
	Public      *bool   `json:"public,omitempty"`
	Description *string `json:"description,omitempty"`
	// Remote or Virtual replace the settings of a repository of that kind
	// as a whole (read them with GET, change, send them back).
	Remote  *registry.RemoteSettings  `json:"remote,omitempty"`
	Virtual *registry.VirtualSettings `json:"virtual,omitempty"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens. Empty Repos or
// Projects mean "all"; ExpiresIn 0 means the token never expires.
type CreateTokenRequest struct {
	Description string            `json:"description,omitempty"`
	Repos       []string          `json:"repos,omitempty"`
	Projects    []string          `json:"projects,omitempty"`
	Actions     []registry.Action `json:"actions"`
	ExpiresIn   Duration          `json:"expires_in,omitzero"`
}

// CreatedToken answers POST /api/v1/tokens. Token is the secret, shown
// this once and never again.
type CreatedToken struct {
	Token     string         `json:"token"`
	ID        string         `json:"id"`
	ExpiresAt time.Time      `json:"expires_at,omitzero"`
	Scope     registry.Scope `json:"scope"`
}

// TokenInfo describes a stored token, never its secret.
type TokenInfo struct {
	ID          string         `json:"id"`
	Description string         `json:"description"`
	Scope       registry.Scope `json:"scope"`
	Origin      string         `json:"origin"`
	CreatedAt   time.Time      `json:"created_at,omitzero"`
	ExpiresAt   time.Time      `json:"expires_at,omitzero"`
	RevokedAt   time.Time      `json:"revoked_at,omitzero"`
	LastUsedAt  time.Time      `json:"last_used_at,omitzero"`
}

// TokenInfoOf converts a stored token to its API form (the CLI uses it when
// it works on a data directory directly).
func TokenInfoOf(t registry.Token) TokenInfo {
	return TokenInfo{
		ID: t.ID, Description: t.Description, Scope: t.Scope, Origin: t.Origin,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt,
	}
}

// YankRequest is the body of the yank route.
type YankRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Changed answers yank, unyank and delete: how many files changed.
type Changed struct {
	Files int `json:"files"`
}

// AuditEvent is one audit log entry.
type AuditEvent struct {
	ID      int64             `json:"id"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Repo    string            `json:"repo,omitempty"`
	Project string            `json:"project,omitempty"`
	Target  string            `json:"target,omitempty"`
	Outcome string            `json:"outcome"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// AuditQuery selects audit events; zero fields match everything. Action is
// exact, or a prefix ending in "." ("token.").
type AuditQuery struct {
	Repo, Project, Action string
	Limit                 int // 0: the server's default (100)
}

// PublisherInfo is a trusted publisher as the API shows it. The body of
// POST /api/v1/repos/{repo}/publishers is an oidc.Publisher (ID, repo and
// created_at are the server's to set).
type PublisherInfo struct {
	oidc.Publisher
	CreatedBy string `json:"created_by,omitempty"` // token ID, or "config" when declared in the file
}

// PublisherQuery selects publishers; zero fields match everything.
type PublisherQuery struct {
	Repo, Project string
}

// Whoami describes the calling token.
type Whoami struct {
	TokenID   string         `json:"token_id"`
	Scope     registry.Scope `json:"scope"`
	ExpiresAt time.Time      `json:"expires_at,omitzero"`
	Origin    string         `json:"origin,omitempty"`
}

// Duration is a token lifetime on the wire: a Go duration string ("1h",
// "90m", "720h") or a number of seconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts "1h"-style strings, whole seconds as a number, and
// digit-only strings as seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*d = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// maxSeconds keeps seconds*1e9 inside int64.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// MinTokenLifetime is the shortest lifetime a token may be given: a
// shorter one is a typo ("30s" meant "30d"?) or, at 0, would read as "never
// expires", the opposite of what was asked.
const MinTokenLifetime = time.Minute

// ParseDuration parses a lifetime as Duration's JSON form does: "24h",
// "90m", or whole seconds ("3600"). "" means no expiry; an explicit zero,
// a negative or a lifetime under MinTokenLifetime is refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var v time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > maxSeconds {
			return 0, fmt.Errorf("lifetime %q is out of range: give a duration such as \"24h\" or \"720h\"", s)
		}
		v = time.Duration(n) * time.Second
	} else if v, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("lifetime %q is not valid: give a duration such as \"1h\" or \"720h\", or a number of seconds", s)
	}
	if v < MinTokenLifetime {
		return 0, fmt.Errorf("lifetime %q is too short: a token must live at least %v (leave the lifetime out for a token that never expires)", s, MinTokenLifetime)
	}
	return v, nil
}
