package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-dev/wharf/internal/registry"
)

// FieldError is one invalid setting. Field is the dotted path in the file
// ("database.dsn", "repositories[2].name"); Msg says what to fix and never
// repeats a secret value.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Limits for tokens.oidc_ttl: PyPI mints for 15 minutes; more than a few
// hours defeats the point of short-lived credentials.
const (
	minOIDCTTL = time.Minute
	maxOIDCTTL = 6 * time.Hour
)

// Validate checks the configuration (with defaults applied) and returns
// errors.Join of a *FieldError for every bad field, or nil.
func (c *Config) Validate() error {
	var v validator
	v.listen("listen", c.Listen)
	if c.PublicURL != "" {
		v.url("public_url", c.PublicURL, "http", "https")
	}
	if c.DataDir == "" {
		v.add("data_dir", "must not be empty")
	}

	switch c.Database.Driver {
	case "sqlite", "postgres":
		if c.Database.DSN == "" {
			v.add("database.dsn", "required for driver "+c.Database.Driver+" (or set database.dsn_file)")
		}
	default:
		v.enum("database.driver", c.Database.Driver, "sqlite", "postgres")
	}
	v.deadline("database.timeout", c.Database.Timeout)
	v.deadline("database.lock_wait", c.Database.LockWait)

	switch c.Blobs.Driver {
	case "fs":
		if c.Blobs.Dir == "" {
			v.add("blobs.dir", "required for driver fs")
		}
	case "s3":
		s3 := c.Blobs.S3
		if s3.Bucket == "" {
			v.add("blobs.s3.bucket", "required for driver s3")
		}
		if s3.Endpoint != "" {
			v.url("blobs.s3.endpoint", s3.Endpoint, "http", "https")
		}
		if (s3.AccessKeyID == "") != (s3.SecretAccessKey == "") {
			v.add("blobs.s3.access_key_id", "set both access_key_id and secret_access_key (or secret_access_key_file), or neither to use the AWS default credential chain")
		}
		if strings.HasPrefix(s3.Prefix, "/") {
			v.add("blobs.s3.prefix", "must not start with '/'")
		}
		v.deadline("blobs.s3.timeout", s3.Timeout)
		if s3.MinRate < 0 {
			v.add("blobs.s3.min_rate", "must be a positive size per second such as 64KiB")
		}
	default:
		v.enum("blobs.driver", c.Blobs.Driver, "fs", "s3")
	}

	v.deadline("upstream.timeout", c.Upstream.Timeout)
	v.deadline("upstream.refresh_wait", c.Upstream.RefreshWait)
	v.deadline("upstream.error_backoff", c.Upstream.ErrorBackoff)
	if c.Upstream.MinRate < 0 {
		v.add("upstream.min_rate", "must be a positive size per second such as 16KiB")
	}

	switch {
	case c.TLS.SelfSigned && (c.TLS.CertFile != "" || c.TLS.KeyFile != ""):
		v.add("tls.self_signed", "cannot be combined with tls.cert_file and tls.key_file")
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		v.add("tls.key_file", "required when tls.cert_file is set")
	case c.TLS.KeyFile != "" && c.TLS.CertFile == "":
		v.add("tls.cert_file", "required when tls.key_file is set")
	}

	if c.Upload.MaxFileSize <= 0 {
		v.add("upload.max_file_size", "must be a positive size such as 100MiB")
	}
	if c.Upload.MinRate <= 0 {
		v.add("upload.min_rate", "must be a positive size per second such as 8KiB")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}, {"http.body_timeout", c.HTTP.BodyTimeout}} {
		if d.v <= 0 {
			v.add(d.field, "must be a positive duration such as 10s")
		}
	}
	v.enum("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.enum("log.format", c.Log.Format, "text", "json")

	seen := map[string]int{}
	for i, r := range c.Repositories {
		f := fmt.Sprintf("repositories[%d]", i)
		switch {
		case r.Name == "":
			v.add(f+".name", "required")
		case slices.Contains(registry.ReservedNames, r.Name) || strings.HasPrefix(r.Name, "_"):
			v.add(f+".name", fmt.Sprintf("%q is reserved: names starting with '_' and %s are routes of wharf itself", r.Name, strings.Join(registry.ReservedNames, ", ")))
		case !registry.ValidRepoName(r.Name):
			v.add(f+".name", fmt.Sprintf("%q is not a valid repository name: use at most 64 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", r.Name))
		}
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			v.add(f+".name", fmt.Sprintf("%q is already declared at repositories[%d]", r.Name, j))
		} else {
			seen[r.Name] = i
		}
		switch r.Kind {
		case registry.Hosted:
			if r.Remote != nil || r.Virtual != nil {
				v.add(f, "a hosted repository takes neither remote nor virtual settings")
			}
		case registry.Remote:
			if r.Virtual != nil {
				v.add(f+".virtual", "only for kind virtual")
			}
			if r.Remote != nil {
				if err := r.Remote.Check(); err != nil {
					v.add(f+".remote", err.Error())
				}
			}
		case registry.Virtual:
			if r.Remote != nil {
				v.add(f+".remote", "only for kind remote")
			}
			if r.Virtual == nil {
				v.add(f+".virtual", "required: list members (and upload_to)")
			} else if err := r.Virtual.Check(); err != nil {
				v.add(f+".virtual", err.Error())
			}
		default:
			v.enum(f+".kind", string(r.Kind), "hosted", "remote", "virtual")
		}
	}

	for i, p := range c.OIDC.Publishers {
		f := fmt.Sprintf("oidc.publishers[%d]", i)
		if !registry.ValidRepoName(p.Repo) {
			v.add(f+".repo", fmt.Sprintf("%q is not a repository name", p.Repo))
		}
		if p.Project == "" {
			v.add(f+".project", "required")
		}
		n := 0
		for _, set := range []bool{p.GitHub != nil, p.GitLab != nil, p.Generic != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.add(f, "set exactly one of github, gitlab or generic")
		}
	}
	policyNames := map[string]int{}
	for i, p := range c.OIDC.Policies {
		f := fmt.Sprintf("oidc.policies[%d]", i)
		if p.Name == "" {
			v.add(f+".name", "required")
		} else if j, dup := policyNames[p.Name]; dup {
			v.add(f+".name", fmt.Sprintf("%q is already used by oidc.policies[%d]", p.Name, j))
		} else {
			policyNames[p.Name] = i
		}
		if p.Issuer == "" {
			v.add(f+".issuer", "required: the name or URL of a configured issuer")
		}
	}
	names, urls := map[string]int{}, map[string]int{}
	for i, is := range c.OIDC.Issuers {
		f := fmt.Sprintf("oidc.issuers[%d]", i)
		switch {
		case is.Name == "":
			v.add(f+".name", "required")
		case !validIssuerName(is.Name):
			v.add(f+".name", fmt.Sprintf("%q is not valid: use lower-case letters, digits and '-', starting with a letter", is.Name))
		}
		if j, dup := names[is.Name]; dup && is.Name != "" {
			v.add(f+".name", fmt.Sprintf("%q is already used by oidc.issuers[%d]", is.Name, j))
		} else {
			names[is.Name] = i
		}
		if is.URL == "" {
			v.add(f+".url", "required")
		} else {
			// http only for an issuer on this machine (the development
			// issuer); everything else must be https.
			if loopbackURL(is.URL) {
				v.url(f+".url", is.URL, "http", "https")
			} else {
				v.url(f+".url", is.URL, "https")
			}
			if j, dup := urls[is.URL]; dup {
				v.add(f+".url", fmt.Sprintf("already configured by oidc.issuers[%d]", j))
			} else {
				urls[is.URL] = i
			}
		}
		v.enum(f+".kind", is.Kind, "github", "gitlab", "generic")
	}

	for i, f := range c.Secrets.PreviousKEKFiles {
		switch f {
		case "":
			v.add(fmt.Sprintf("secrets.previous_kek_files[%d]", i), "must not be empty")
		case c.Secrets.KEKFile:
			v.add(fmt.Sprintf("secrets.previous_kek_files[%d]", i), "is the current secrets.kek_file; list only keys being rotated away from")
		}
	}

	if c.Tokens.OIDCTTL < minOIDCTTL || c.Tokens.OIDCTTL > maxOIDCTTL {
		v.add("tokens.oidc_ttl", fmt.Sprintf("must be between %v and %v, written with a unit such as 15m (got %v)", minOIDCTTL, maxOIDCTTL, c.Tokens.OIDCTTL))
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(field, msg string) {
	v.errs = append(v.errs, &FieldError{Field: field, Msg: msg})
}

// deadline checks a backend deadline: long enough for a healthy backend
// under load, short enough that a hung one is noticed. Zero (a Config
// built in code without ApplyDefaults) means the backend's default.
func (v *validator) deadline(field string, d time.Duration) {
	if d != 0 && (d < 100*time.Millisecond || d > time.Hour) {
		v.add(field, "must be a duration between 100ms and 1h, such as 10s")
	}
}

func (v *validator) enum(field, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.add(field, fmt.Sprintf("unknown value %q (want one of %s)", val, strings.Join(allowed, ", ")))
	}
}

func (v *validator) listen(field, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(field, fmt.Sprintf("%q is not a host:port address such as 127.0.0.1:8080 or :8080", addr))
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		v.add(field, fmt.Sprintf("port %q is not a number from 0 to 65535", port))
	}
	if strings.ContainsAny(host, " /") {
		v.add(field, fmt.Sprintf("host %q is not a host name or IP address", host))
	}
}

func (v *validator) url(field, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	switch {
	case strings.Contains(raw, "@") && (err != nil || u.User != nil):
		// Never echo it: the user info may hold a password.
		v.add(field, "must not contain a user name or password")
	case err != nil:
		v.add(field, fmt.Sprintf("%q is not a URL", raw))
	case !slices.Contains(schemes, u.Scheme) || u.Host == "":
		v.add(field, fmt.Sprintf("%q must be an absolute %s URL", raw, strings.Join(schemes, " or ")))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		v.add(field, fmt.Sprintf("%q must not have a query or fragment", raw))
	}
}

func validIssuerName(s string) bool {
	if s == "" || len(s) > 64 || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if h := u.Hostname(); h == "localhost" {
		return true
	} else if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback()
	}
	return false
}
