package registry

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Upstream authentication kinds of a remote repository.
const (
	AuthNone  = "none"
	AuthBasic = "basic" // username + password from a secret
	AuthToken = "token" // username __token__ + API token from a secret (PyPI)
)

// DefaultUpstream is PyPI's simple index.
const DefaultUpstream = "https://pypi.org/simple/"

// RemoteSettings configure a remote (pull-through cache) repository. Zero
// durations take the defaults of registry/remote.
type RemoteSettings struct {
	// Upstream is the simple index URL, ending in "/".
	Upstream string `json:"upstream" yaml:"upstream"`
	Auth     string `json:"auth,omitempty" yaml:"auth"` // none | basic | token
	Username string `json:"username,omitempty" yaml:"username"`
	// Secret names the secret holding the password or token, and
	// SecretVersion the version ("latest", resolved on every request, or
	// a number).
	Secret        string `json:"secret,omitempty" yaml:"secret"`
	SecretVersion string `json:"secret_version,omitempty" yaml:"secret_version"`
	// TTL is how long a fetched page is fresh (default 10m); NegativeTTL how
	// long an upstream 404 is remembered (default 1m); StaleMaxAge how long
	// past its freshness a page may still be served when the upstream
	// fails (default 7 days; a negative value disables stale-if-error).
	TTL         Duration `json:"ttl,omitempty" yaml:"ttl"`
	NegativeTTL Duration `json:"negative_ttl,omitempty" yaml:"negative_ttl"`
	StaleMaxAge Duration `json:"stale_max_age,omitempty" yaml:"stale_max_age"`
	// MinReleaseAge hides upstream files uploaded less than this long ago
	// (cooldown); CooldownExceptions are projects (normalised) exempt.
	MinReleaseAge      Duration `json:"min_release_age,omitempty" yaml:"min_release_age"`
	CooldownExceptions []string `json:"cooldown_exceptions,omitempty" yaml:"cooldown_exceptions"`
}

// VirtualSettings configure a virtual repository.
type VirtualSettings struct {
	// Members are repository names in resolution order.
	Members []string `json:"members" yaml:"members"`
	// UploadTo is the hosted member uploads to the virtual repository go to.
	UploadTo string `json:"upload_to,omitempty" yaml:"upload_to"`
	// Merge lists projects (normalised) whose files are merged from every
	// member instead of taken from the first member that has the project.
	Merge []string `json:"merge,omitempty" yaml:"merge"`
}

// RepoSettings are the kind-specific settings stored with a repository.
type RepoSettings struct {
	Remote  *RemoteSettings  `json:"remote,omitempty"`
	Virtual *VirtualSettings `json:"virtual,omitempty"`
}

// Duration is a time.Duration written as "10m" in JSON and YAML.
type Duration time.Duration

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go syntax ("90s", "72h").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration: write it like 90s, 10m or 72h", b)
	}
	*d = Duration(v)
	return nil
}

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Check reports what is wrong with remote settings, in words that say what
// to fix; nil when they are usable.
func (s RemoteSettings) Check() error {
	if s.Upstream != "" {
		u, err := url.Parse(s.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("upstream %q is not an http(s) URL like %s", s.Upstream, DefaultUpstream)
		}
		if u.User != nil {
			return fmt.Errorf("upstream %q carries credentials: put the password in a secret and use auth basic or token", u.Redacted())
		}
	}
	switch s.Auth {
	case "", AuthNone:
		if s.Secret != "" {
			return fmt.Errorf("secret %q is set but auth is none: use auth basic or token", s.Secret)
		}
	case AuthBasic:
		if s.Username == "" || s.Secret == "" {
			return fmt.Errorf("auth basic needs a username and a secret")
		}
	case AuthToken:
		if s.Secret == "" {
			return fmt.Errorf("auth token needs a secret holding the API token")
		}
		if s.Username != "" && s.Username != "__token__" {
			return fmt.Errorf("auth token always sends username __token__: leave username empty or use auth basic")
		}
	default:
		return fmt.Errorf("unknown auth %q: use none, basic or token", s.Auth)
	}
	if v := s.SecretVersion; v != "" && v != "latest" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return fmt.Errorf("secret version %q is neither latest nor a version number", v)
		}
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{{"ttl", s.TTL}, {"negative_ttl", s.NegativeTTL}, {"min_release_age", s.MinReleaseAge}} {
		if d.d < 0 {
			return fmt.Errorf("%s must not be negative", d.name)
		}
	}
	return nil
}

// Check reports what is wrong with virtual settings on their own (members
// existing and cycles are checked against the store by registry/virtual).
func (s VirtualSettings) Check() error {
	if len(s.Members) == 0 {
		return fmt.Errorf("a virtual repository needs at least one member")
	}
	for i, m := range s.Members {
		if !ValidRepoName(m) {
			return fmt.Errorf("member %q is not a repository name", m)
		}
		if slices.Contains(s.Members[:i], m) {
			return fmt.Errorf("member %q is listed twice", m)
		}
	}
	if s.UploadTo != "" && !slices.Contains(s.Members, s.UploadTo) {
		return fmt.Errorf("upload_to %q must be one of the members", s.UploadTo)
	}
	return nil
}
