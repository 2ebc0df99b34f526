package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/registry"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mut  func(*Config)
		want []string // "field: message substring", in order; nil means valid
	}{
		{"defaults are valid", func(*Config) {}, nil},
		{"listen any interface", func(c *Config) { c.Listen = ":8080" }, nil},
		{"listen ipv6", func(c *Config) { c.Listen = "[::1]:0" }, nil},
		{"listen no port", func(c *Config) { c.Listen = "localhost" }, []string{`listen: "localhost" is not a host:port`}},
		{"listen bad port", func(c *Config) { c.Listen = "localhost:http" }, []string{`listen: port "http" is not a number`}},
		{"listen port too big", func(c *Config) { c.Listen = ":70000" }, []string{`listen: port "70000"`}},
		{"listen bad host", func(c *Config) { c.Listen = "a b:80" }, []string{`listen: host "a b"`}},
		{"public url ok", func(c *Config) { c.PublicURL = "http://localhost:8080/pypi/" }, nil},
		{"public url relative", func(c *Config) { c.PublicURL = "/pypi" }, []string{`public_url: "/pypi" must be an absolute http or https URL`}},
		{"public url ftp", func(c *Config) { c.PublicURL = "ftp://h/" }, []string{`public_url: "ftp://h/" must be an absolute http or https URL`}},
		{"public url query", func(c *Config) { c.PublicURL = "https://h/?a=1" }, []string{"public_url: \"https://h/?a=1\" must not have a query"}},
		{"public url fragment", func(c *Config) { c.PublicURL = "https://h/#x" }, []string{`public_url: "https://h/#x" must not have a query or fragment`}},
		{"public url userinfo", func(c *Config) { c.PublicURL = "https://u:pw@h/" }, []string{"public_url: must not contain a user name or password"}},
		{"public url unparsable", func(c *Config) { c.PublicURL = "https://h/%zz" }, []string{`public_url: "https://h/%zz" is not a URL`}},
		{"data dir empty", func(c *Config) { c.DataDir = "" }, []string{"data_dir: must not be empty"}},
		{"database driver", func(c *Config) { c.Database.Driver = "mysql" }, []string{`database.driver: unknown value "mysql" (want one of sqlite, postgres)`}},
		{"postgres without dsn", func(c *Config) { c.Database = Database{Driver: "postgres"} }, []string{"database.dsn: required for driver postgres"}},
		{"blobs driver", func(c *Config) { c.Blobs.Driver = "gcs" }, []string{`blobs.driver: unknown value "gcs" (want one of fs, s3)`}},
		{"fs without dir", func(c *Config) { c.Blobs.Dir = "" }, []string{"blobs.dir: required for driver fs"}},
		{"s3 ok", func(c *Config) {
			c.Blobs = Blobs{Driver: "s3", S3: S3{Bucket: "b", Endpoint: "http://minio:9000", AccessKeyID: "a", SecretAccessKey: "s"}}
		}, nil},
		{"s3 without bucket", func(c *Config) { c.Blobs = Blobs{Driver: "s3"} }, []string{"blobs.s3.bucket: required for driver s3"}},
		{"s3 bad endpoint", func(c *Config) { c.Blobs = Blobs{Driver: "s3", S3: S3{Bucket: "b", Endpoint: "minio:9000"}} }, []string{"blobs.s3.endpoint: "}},
		{"s3 half credentials", func(c *Config) { c.Blobs = Blobs{Driver: "s3", S3: S3{Bucket: "b", SecretAccessKey: "s"}} }, []string{"blobs.s3.access_key_id: set both"}},
		{"s3 prefix slash", func(c *Config) { c.Blobs = Blobs{Driver: "s3", S3: S3{Bucket: "b", Prefix: "/x"}} }, []string{"blobs.s3.prefix: must not start with '/'"}},
		{"database deadlines ok", func(c *Config) { c.Database.Timeout = 2 * time.Second; c.Database.LockWait = 5 * time.Minute }, nil},
		{"database timeout too short", func(c *Config) { c.Database.Timeout = time.Millisecond }, []string{"database.timeout: must be a duration between 100ms and 1h"}},
		{"database lock wait negative", func(c *Config) { c.Database.LockWait = -time.Second }, []string{"database.lock_wait: must be a duration"}},
		{"upstream deadlines out of range", func(c *Config) {
			c.Upstream.Timeout, c.Upstream.RefreshWait, c.Upstream.ErrorBackoff, c.Upstream.MinRate = 2*time.Hour, time.Millisecond, -time.Second, -1
		}, []string{"upstream.timeout: must be a duration", "upstream.refresh_wait: must be a duration", "upstream.error_backoff: must be a duration", "upstream.min_rate: must be a positive size"}},
		{"s3 deadlines", func(c *Config) {
			c.Blobs = Blobs{Driver: "s3", S3: S3{Bucket: "b", Timeout: 2 * time.Hour, MinRate: -1}}
		}, []string{"blobs.s3.timeout: must be a duration between 100ms and 1h", "blobs.s3.min_rate: must be a positive size"}},
		{"tls ok", func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k"} }, nil},
		{"tls self signed ok", func(c *Config) { c.TLS = TLS{SelfSigned: true} }, nil},
		{"tls cert without key", func(c *Config) { c.TLS = TLS{CertFile: "c"} }, []string{"tls.key_file: required when tls.cert_file is set"}},
		{"tls key without cert", func(c *Config) { c.TLS = TLS{KeyFile: "k"} }, []string{"tls.cert_file: required when tls.key_file is set"}},
		{"tls self signed and files", func(c *Config) { c.TLS = TLS{CertFile: "c", KeyFile: "k", SelfSigned: true} }, []string{"tls.self_signed: cannot be combined"}},
		{"size zero", func(c *Config) { c.Upload.MaxFileSize = 0 }, []string{"upload.max_file_size: must be a positive size"}},
		{"size negative", func(c *Config) { c.Upload.MaxFileSize = -1 }, []string{"upload.max_file_size: must be a positive size"}},
		{"min rate negative", func(c *Config) { c.Upload.MinRate = -1 }, []string{"upload.min_rate: must be a positive size"}},
		{"body timeout negative", func(c *Config) { c.HTTP.BodyTimeout = -time.Second }, []string{"http.body_timeout: must be a positive duration"}},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, []string{`log.level: unknown value "trace" (want one of debug, info, warn, error)`}},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, []string{`log.format: unknown value "xml" (want one of text, json)`}},
		{"repos ok", func(c *Config) {
			c.Repositories = []Repository{{Name: "main", Kind: "hosted"}, {Name: "team.a_b-c", Kind: "hosted"}}
		}, nil},
		{"repo problems", func(c *Config) {
			c.Repositories = []Repository{
				{Name: "main", Kind: "hosted"},
				{Name: "", Kind: "hosted"},
				{Name: "api", Kind: "hosted"},
				{Name: "_x", Kind: "hosted"},
				{Name: "Main", Kind: "hosted"},
				{Name: "main", Kind: "remote"},
				{Name: "v", Kind: "virtual"},
				{Name: "w", Kind: "mirror"},
				{Name: strings.Repeat("a", 65), Kind: "hosted"},
				{Name: "r1", Kind: "remote", Remote: &registry.RemoteSettings{Upstream: "ftp://x/", Auth: "basic"}},
				{Name: "r2", Kind: "remote", Remote: &registry.RemoteSettings{Auth: "token"}},
				{Name: "v2", Kind: "virtual", Virtual: &registry.VirtualSettings{Members: []string{"main"}, UploadTo: "other"}},
				{Name: "ok-remote", Kind: "remote", Remote: &registry.RemoteSettings{Auth: "token", Secret: "pypi", SecretVersion: "latest", MinReleaseAge: registry.Duration(72 * time.Hour)}},
				{Name: "ok-virtual", Kind: "virtual", Virtual: &registry.VirtualSettings{Members: []string{"main", "ok-remote"}, UploadTo: "main"}},
			}
		}, []string{
			"repositories[1].name: required",
			`repositories[2].name: "api" is reserved`,
			`repositories[3].name: "_x" is reserved`,
			`repositories[4].name: "Main" is not a valid repository name`,
			`repositories[5].name: "main" is already declared at repositories[0]`,
			`repositories[6].virtual: required: list members`,
			`repositories[7].kind: unknown value "mirror" (want one of hosted, remote, virtual)`,
			`repositories[8].name: "aaaa`,
			`repositories[9].remote: upstream "ftp://x/" is not an http(s) URL`,
			`repositories[10].remote: auth token needs a secret`,
			`repositories[11].virtual: upload_to "other" must be one of the members`,
		}},
		{"oidc ok", func(c *Config) {
			c.OIDC = OIDC{Audience: "wharf.example", Issuers: []Issuer{{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"},
				{Name: "dev", URL: "http://127.0.0.1:9999", Kind: "github"}}}
		}, nil},
		{"oidc problems", func(c *Config) {
			c.OIDC = OIDC{Issuers: []Issuer{
				{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"},
				{Name: "github", URL: "http://gitlab.example", Kind: "gitlab"},
				{Name: "", URL: "", Kind: "generic"},
				{Name: "Bad Name", URL: "https://token.actions.githubusercontent.com", Kind: "okta"},
			}}
		}, []string{
			`oidc.issuers[1].name: "github" is already used by oidc.issuers[0]`,
			`oidc.issuers[1].url: "http://gitlab.example" must be an absolute https URL`,
			"oidc.issuers[2].name: required",
			"oidc.issuers[2].url: required",
			`oidc.issuers[3].name: "Bad Name" is not valid`,
			"oidc.issuers[3].url: already configured by oidc.issuers[0]",
			`oidc.issuers[3].kind: unknown value "okta" (want one of github, gitlab, generic)`,
		}},
		{"publisher problems", func(c *Config) {
			c.OIDC.Publishers = []Publisher{
				{Repo: "local", Project: "demo", GitHub: &GitHubPublisher{Owner: "acme"}},
				{Repo: "_bad", Project: "", GitHub: &GitHubPublisher{}, GitLab: &GitLabPublisher{}},
			}
		}, []string{
			`oidc.publishers[1].repo: "_bad" is not a repository name`,
			"oidc.publishers[1].project: required",
			"oidc.publishers[1]: set exactly one of github, gitlab or generic",
		}},
		{"oidc ttl too short", func(c *Config) { c.Tokens.OIDCTTL = 900 }, []string{"tokens.oidc_ttl: must be between 1m0s and 6h0m0s, written with a unit such as 15m (got 900ns)"}},
		{"oidc ttl too long", func(c *Config) { c.Tokens.OIDCTTL = 7 * time.Hour }, []string{"tokens.oidc_ttl: must be between"}},
		{"several at once", func(c *Config) { c.Listen = "x"; c.Log.Level = "x"; c.Log.Format = "x" }, []string{"listen: ", "log.level: ", "log.format: "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Config{}
			c.ApplyDefaults()
			tt.mut(c)
			err := c.Validate()
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *FieldError
					if !errors.As(e, &fe) {
						t.Fatalf("not a *FieldError: %v", e)
					}
					got = append(got, fe.Error())
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), cmp.Diff(tt.want, got))
			}
			for i := range got {
				field, _, _ := strings.Cut(tt.want[i], ": ")
				if !strings.HasPrefix(got[i], field+": ") || !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestValidateViaLoadReportsFields(t *testing.T) {
	t.Parallel()
	_, err := Load(write(t, "listen: nope\nrepositories:\n  - name: ui\n", nil), env(nil))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *FieldError inside", err)
	}
	for _, want := range []string{"listen: ", "repositories[0].name: \"ui\" is reserved"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

func TestTLSEnabled(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		tls  TLS
		want bool
	}{{TLS{}, false}, {TLS{CertFile: "c", KeyFile: "k"}, true}, {TLS{SelfSigned: true}, true}} {
		if got := tt.tls.Enabled(); got != tt.want {
			t.Errorf("%+v.Enabled() = %v", tt.tls, got)
		}
	}
}
