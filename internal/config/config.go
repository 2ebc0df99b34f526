// Package config reads wharf's YAML configuration file into typed structs.
//
// Decoding is strict: an unknown key is an error naming the key and its
// line. String values may reference environment variables as ${VAR} or
// ${VAR:-default}; $${ stands for a literal "${". Secrets can be kept out of
// the file with the *_file fields (database.dsn_file,
// blobs.s3.secret_access_key_file), whose trimmed file content becomes the
// sibling value. Secret values are of type Secret, which never prints.
//
// Relative paths written in the file (data_dir, blobs.dir, tls.*_file, the
// *_file fields and a plain SQLite dsn path) are resolved against the
// directory of the config file, so a service started from any working
// directory finds the same files. Defaults, and everything in the embedded
// default configuration used without a file, are relative to the working
// directory (./wharf-data).
package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wharf-dev/wharf/internal/registry"
)

// Config is the whole configuration file.
type Config struct {
	Listen       string       `yaml:"listen"`
	PublicURL    string       `yaml:"public_url"`
	DataDir      string       `yaml:"data_dir"`
	Database     Database     `yaml:"database"`
	Blobs        Blobs        `yaml:"blobs"`
	TLS          TLS          `yaml:"tls"`
	HTTP         HTTP         `yaml:"http"`
	Upload       Upload       `yaml:"upload"`
	Log          Log          `yaml:"log"`
	Repositories []Repository `yaml:"repositories"`
	OIDC         OIDC         `yaml:"oidc"`
	Tokens       Tokens       `yaml:"tokens"`
	Secrets      Secrets      `yaml:"secrets"`
	Upstream     Upstream     `yaml:"upstream"`
}

// Upstream bounds the calls remote repositories make to their upstream
// indexes (docs/deployment.md, "Deadlines").
type Upstream struct {
	// Timeout bounds a whole index page fetch and the wait for a file's
	// response, and is the window over which a file transfer must keep
	// MinRate.
	Timeout time.Duration `yaml:"timeout"`
	// MinRate, per second, is the slowest file transfer from an upstream
	// that is not abandoned: a fixed total would fail large files on slow
	// links.
	MinRate Size `yaml:"min_rate"`
	// RefreshWait is how long a request for a page past its TTL waits for
	// the upstream before it is answered from the stale copy while the
	// refresh goes on in the background.
	RefreshWait time.Duration `yaml:"refresh_wait"`
	// ErrorBackoff is how long a failed fetch is not retried: its page is
	// served stale or its failure answered again.
	ErrorBackoff time.Duration `yaml:"error_backoff"`
}

// Database selects the metadata store.
type Database struct {
	Driver  string `yaml:"driver"` // sqlite | postgres
	DSN     Secret `yaml:"dsn"`    // sqlite: a file path or file: URI; postgres: a URL or key=value string
	DSNFile string `yaml:"dsn_file"`
	// Timeout bounds each statement and each transaction, so a database
	// that stops answering (or a SQLite file another process keeps
	// locked) fails requests with 503 instead of holding them.
	Timeout time.Duration `yaml:"timeout"`
	// LockWait bounds the wait for a lock another replica holds while it
	// fills a cold remote page or file (PostgreSQL).
	LockWait time.Duration `yaml:"lock_wait"`
}

// Blobs selects the artifact store.
type Blobs struct {
	Driver string `yaml:"driver"` // fs | s3
	Dir    string `yaml:"dir"`
	S3     S3     `yaml:"s3"`
}

// S3 configures an S3 or S3-compatible bucket. Empty credentials mean the
// AWS default chain (environment, shared config, instance roles).
type S3 struct {
	Bucket              string `yaml:"bucket"`
	Prefix              string `yaml:"prefix"`
	Region              string `yaml:"region"`
	Endpoint            string `yaml:"endpoint"`
	PathStyle           bool   `yaml:"path_style"`
	AccessKeyID         string `yaml:"access_key_id"`
	SecretAccessKey     Secret `yaml:"secret_access_key"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	// Redirect answers downloads with a 302 to a presigned URL, so the
	// bytes go from the bucket straight to the client.
	Redirect bool `yaml:"redirect"`
	// Timeout bounds each metadata call (HEAD, DELETE, a listing page,
	// starting or aborting a multipart upload) and is the window over
	// which a body transfer must keep MinRate.
	Timeout time.Duration `yaml:"timeout"`
	// MinRate, per second, is the slowest body transfer to or from the
	// store that is not abandoned: a fixed total would fail large files
	// on slow links.
	MinRate Size `yaml:"min_rate"`
}

// TLS makes wharf serve HTTPS itself. With neither files nor SelfSigned it
// serves plain HTTP (behind a TLS-terminating proxy, say).
type TLS struct {
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	SelfSigned bool   `yaml:"self_signed"` // development: generate a certificate into data_dir
}

// Enabled reports whether wharf should serve HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.SelfSigned }

// HTTP sets the listener's time limits (docs/security.md, "Limits and
// timeouts"): a client may not hold a connection by sending slowly.
type HTTP struct {
	// ReadHeaderTimeout bounds the request line and headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// BodyTimeout bounds the arrival of a request body (the JSON of the
	// token, OIDC and admin routes); an upload gets this long plus the
	// time upload.min_rate allows for its bytes.
	BodyTimeout time.Duration `yaml:"body_timeout"`
}

// Upload limits uploads.
type Upload struct {
	MaxFileSize Size `yaml:"max_file_size"`
	// MinRate, per second, is the slowest average an upload may keep
	// after http.body_timeout: a slow but steady link always finishes, a
	// stalled one is cut off.
	MinRate Size `yaml:"min_rate"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// SlogLevel returns Level as a slog.Level (info for anything unknown;
// Validate rejects those).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Repository declares a repository to create at start if it does not exist.
type Repository struct {
	Name        string            `yaml:"name"`
	Kind        registry.RepoKind `yaml:"kind"`   // hosted, remote or virtual
	Public      *bool             `yaml:"public"` // nil: true
	Description string            `yaml:"description"`
	// Remote configures a remote repository (defaults: PyPI, no auth).
	Remote *registry.RemoteSettings `yaml:"remote"`
	// Virtual configures a virtual repository (members are required).
	Virtual *registry.VirtualSettings `yaml:"virtual"`
}

// IsPublic reports whether the repository can be read without a token.
func (r Repository) IsPublic() bool { return r.Public == nil || *r.Public }

// OIDC lists the identity providers whose ID tokens wharf exchanges for
// upload tokens. Only these issuers are ever contacted.
type OIDC struct {
	// Audience is the aud claim wharf requires; unique per instance so a
	// token minted for one registry cannot be replayed at another.
	Audience string   `yaml:"audience"`
	Issuers  []Issuer `yaml:"issuers"`
	// Publishers are trusted publishers declared for reproducible set-ups;
	// they are created at start when missing (the API and CLI manage others).
	Publishers []Publisher `yaml:"publishers"`
	// Policies are trust policies declared for infrastructure as code;
	// created, or replaced when changed, at start (docs/trust-policies.md).
	// package oidc validates them; config must not import it.
	Policies []Policy `yaml:"policies"`
}

// Policy declares a trust policy; the fields are oidc.Policy's.
type Policy struct {
	Name      string          `yaml:"name"`
	Issuer    string          `yaml:"issuer"`
	Audience  string          `yaml:"audience"`
	Effect    string          `yaml:"effect"`
	Match     []PolicyMatcher `yaml:"match"`
	Condition string          `yaml:"condition"`
	Grant     PolicyGrant     `yaml:"grant"`
	// PrivilegedEvents opts GitHub workflow_run / issue_comment jobs in to
	// the policy's upload, yank and delete (oidc.Policy.PrivilegedEvents).
	PrivilegedEvents []string `yaml:"privileged_events"`
	Force            bool     `yaml:"force"`
}

// PolicyMatcher tests one claim (claim or path; one of equals, not_equals,
// like, in).
type PolicyMatcher struct {
	Claim     string   `yaml:"claim"`
	Path      []string `yaml:"path"`
	Equals    *string  `yaml:"equals"`
	NotEquals *string  `yaml:"not_equals"`
	Like      *string  `yaml:"like"`
	In        []string `yaml:"in"`
}

// PolicyGrant is what a declared policy grants (allow) or removes (deny).
type PolicyGrant struct {
	Repositories []string      `yaml:"repositories"`
	Projects     []string      `yaml:"projects"`
	Actions      []string      `yaml:"actions"`
	TTL          time.Duration `yaml:"ttl"`
}

// Publisher declares a trusted publisher: the CI identity allowed to upload
// one project of one repository. Exactly one of GitHub, GitLab, Generic.
type Publisher struct {
	Repo    string            `yaml:"repo"`
	Project string            `yaml:"project"`
	Pending bool              `yaml:"pending"` // may create the project on first publish
	GitHub  *GitHubPublisher  `yaml:"github"`
	GitLab  *GitLabPublisher  `yaml:"gitlab"`
	Generic *GenericPublisher `yaml:"generic"`
}

// GitHubPublisher: see docs/trusted-publishing.md.
type GitHubPublisher struct {
	Issuer         string   `yaml:"issuer"` // default https://token.actions.githubusercontent.com
	Owner          string   `yaml:"owner"`
	OwnerID        string   `yaml:"owner_id"`
	Repository     string   `yaml:"repository"`
	RepositoryID   string   `yaml:"repository_id"`
	Workflow       string   `yaml:"workflow"`
	Environment    string   `yaml:"environment"`
	JobWorkflowRef string   `yaml:"job_workflow_ref"`
	AllowedEvents  []string `yaml:"allowed_events"`
}

// GitLabPublisher: see docs/trusted-publishing.md.
type GitLabPublisher struct {
	Issuer      string `yaml:"issuer"` // default https://gitlab.com
	Namespace   string `yaml:"namespace"`
	NamespaceID string `yaml:"namespace_id"`
	Project     string `yaml:"project"`
	CIFilePath  string `yaml:"ci_file_path"`
	Environment string `yaml:"environment"`
}

// GenericPublisher matches any configured issuer by exact claim values.
type GenericPublisher struct {
	Issuer string            `yaml:"issuer"`
	Claims map[string]string `yaml:"claims"`
}

// Issuer is one trusted OIDC issuer.
type Issuer struct {
	Name string `yaml:"name"` // short ID used in policies and token origins: "github"
	URL  string `yaml:"url"`  // the iss value, https
	Kind string `yaml:"kind"` // github | gitlab | generic
}

// Tokens configures minted tokens.
type Tokens struct {
	// OIDCTTL is the lifetime of tokens minted from OIDC ID tokens.
	OIDCTTL time.Duration `yaml:"oidc_ttl"`
}

// Secrets configures the key-encryption key (KEK) of the secret store: 32
// random bytes in base64 or hex, from a file or an environment variable.
// With neither, wharf keeps a generated key in <data_dir>/kek (and warns).
type Secrets struct {
	KEKFile string `yaml:"kek_file"`
	KEKEnv  string `yaml:"kek_env"` // the name of a variable, e.g. WHARF_KEK
	// PreviousKEKFiles can still unwrap data keys: list the old key here
	// while `wharf secret rotate-kek` moves to a new one.
	PreviousKEKFiles []string `yaml:"previous_kek_files"`
	// KEK is the key text read from KEKFile or the KEKEnv variable at load
	// ("" when neither is set); package secrets parses it.
	KEK Secret `yaml:"-"`
}

// Defaults.
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultDataDir       = "./wharf-data"
	DefaultMaxFileSize   = Size(1 << 30)
	DefaultUploadMinRate = Size(8 << 10)
	// Listener time limits (docs/security.md, "Limits and timeouts").
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultBodyTimeout       = 10 * time.Second
	DefaultOIDCTTL           = 15 * time.Minute
	// Backend deadlines (docs/deployment.md, "Deadlines").
	DefaultDatabaseTimeout  = 10 * time.Second
	DefaultDatabaseLockWait = time.Minute
	DefaultS3Timeout        = 10 * time.Second
	DefaultS3MinRate        = Size(64 << 10)
	DefaultUpstreamTimeout  = 30 * time.Second
	DefaultUpstreamMinRate  = Size(16 << 10)
	DefaultRefreshWait      = time.Second
	DefaultErrorBackoff     = 10 * time.Second
)

// DefaultAudience is the OIDC audience when none is configured: "wharf:"
// and the public URL's host, so tokens requested for one wharf are useless at
// another; plain "wharf" without a public URL.
func DefaultAudience(publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil && u.Host != "" {
		return "wharf:" + u.Host
	}
	return "wharf"
}

//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded default configuration, used when wharf runs
// without a file: SQLite and local files under ./wharf-data, listening on
// 127.0.0.1:8080. A few WHARF_* variables (see default.yaml) adjust it.
func Default(getenv func(string) string) (*Config, error) {
	return parse(defaultYAML, "", getenv)
}

// ApplyDefaults fills every empty field that has a default. Load and Default
// call it; call it yourself for a Config built in code.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Database.Driver == "" {
		c.Database.Driver = "sqlite"
	}
	if c.Database.Driver == "sqlite" && c.Database.DSN == "" && c.Database.DSNFile == "" {
		c.Database.DSN = Secret(filepath.Join(c.DataDir, "wharf.db"))
	}
	if c.Database.Timeout == 0 {
		c.Database.Timeout = DefaultDatabaseTimeout
	}
	if c.Database.LockWait == 0 {
		c.Database.LockWait = DefaultDatabaseLockWait
	}
	if c.Blobs.Driver == "" {
		c.Blobs.Driver = "fs"
	}
	if c.Blobs.Driver == "s3" && c.Blobs.S3.Timeout == 0 {
		c.Blobs.S3.Timeout = DefaultS3Timeout
	}
	if c.Blobs.Driver == "s3" && c.Blobs.S3.MinRate == 0 {
		c.Blobs.S3.MinRate = DefaultS3MinRate
	}
	if c.Blobs.Driver == "fs" && c.Blobs.Dir == "" {
		c.Blobs.Dir = filepath.Join(c.DataDir, "blobs")
	}
	if c.Upload.MaxFileSize == 0 {
		c.Upload.MaxFileSize = DefaultMaxFileSize
	}
	if c.Upload.MinRate == 0 {
		c.Upload.MinRate = DefaultUploadMinRate
	}
	if c.HTTP.ReadHeaderTimeout == 0 {
		c.HTTP.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.HTTP.IdleTimeout == 0 {
		c.HTTP.IdleTimeout = DefaultIdleTimeout
	}
	if c.HTTP.BodyTimeout == 0 {
		c.HTTP.BodyTimeout = DefaultBodyTimeout
	}
	if c.Upstream.Timeout == 0 {
		c.Upstream.Timeout = DefaultUpstreamTimeout
	}
	if c.Upstream.MinRate == 0 {
		c.Upstream.MinRate = DefaultUpstreamMinRate
	}
	if c.Upstream.RefreshWait == 0 {
		c.Upstream.RefreshWait = DefaultRefreshWait
	}
	if c.Upstream.ErrorBackoff == 0 {
		c.Upstream.ErrorBackoff = DefaultErrorBackoff
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	for i := range c.Repositories {
		r := &c.Repositories[i]
		if r.Kind == "" {
			r.Kind = registry.Hosted
		}
		if r.Public == nil {
			t := true
			r.Public = &t
		}
	}
	for i := range c.OIDC.Issuers {
		if c.OIDC.Issuers[i].Kind == "" {
			c.OIDC.Issuers[i].Kind = "generic"
		}
	}
	if c.OIDC.Audience == "" {
		c.OIDC.Audience = DefaultAudience(c.PublicURL)
	}
	if c.Tokens.OIDCTTL == 0 {
		c.Tokens.OIDCTTL = DefaultOIDCTTL
	}
}

// Secret is a string that never shows itself: fmt (every verb), slog, YAML
// and JSON all print "[redacted]" (or "" when empty). Use Value for the
// real thing, only where it is handed to the driver or client needing it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString covers %#v where Format is bypassed.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format covers every verb (%d, %x, %q...), some of which would otherwise
// print the underlying string. %q and %#v quote like a string would.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue covers slog, whose JSON handler would otherwise bypass String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML covers `wharf config print`.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON covers JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Size is a number of bytes, written in the file as an integer or with a
// unit: "100MiB", "1GB", "512 KiB", "1.5GiB". Units are B, kB/KB, MB, GB,
// TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024),
// case-insensitive.
type Size int64

// ParseSize parses a human-readable size.
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes or a number with a unit such as 100MiB or 1GB", s)
	}
	var mult float64
	switch unit {
	case "", "b":
		mult = 1
	case "k", "kb":
		mult = 1e3
	case "m", "mb":
		mult = 1e6
	case "g", "gb":
		mult = 1e9
	case "t", "tb":
		mult = 1e12
	case "kib":
		mult = 1 << 10
	case "mib":
		mult = 1 << 20
	case "gib":
		mult = 1 << 30
	case "tib":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, strings.TrimSpace(s[i:]))
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || (mult > 1 && n > int64(float64(1<<62)/mult)) {
			return 0, fmt.Errorf("invalid size %q: too large", s)
		}
		return Size(n * int64(mult)), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %q is not a number", s, num)
	}
	if f*mult >= 1<<62 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(f * mult), nil
}

// String formats the size with the largest binary unit that divides it.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML parses a scalar with ParseSize.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a number or a string such as 100MiB", n.Line)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// MarshalYAML writes the size in its String form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }
