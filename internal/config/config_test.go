package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/wharf-dev/wharf/internal/registry"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// write puts a config file (and any extra files) in a fresh directory and
// returns the config's path.
func write(t *testing.T, yml string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "wharf.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func TestExampleLoads(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/wharf.example.yaml", env(nil))
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	dir, _ := filepath.Abs("testdata")
	want := &Config{
		Listen:    "127.0.0.1:8080",
		PublicURL: "https://pypi.example.internal",
		DataDir:   filepath.Join(dir, "wharf-data"),
		Database: Database{Driver: "sqlite", DSN: Secret(filepath.Join(dir, "wharf-data/wharf.db")),
			Timeout: 10 * time.Second, LockWait: time.Minute},
		Blobs: Blobs{Driver: "fs", Dir: filepath.Join(dir, "wharf-data/blobs"), S3: S3{
			Bucket: "wharf-packages", Region: "eu-west-1", Timeout: 10 * time.Second, MinRate: 64 << 10,
		}},
		HTTP:   HTTP{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, BodyTimeout: 10 * time.Second},
		Upload: Upload{MaxFileSize: 1 << 30, MinRate: 8 << 10},
		Log:    Log{Level: "info", Format: "text"},
		Repositories: []Repository{
			{Name: "main", Kind: registry.Hosted, Public: ptr(true), Description: "Our internal packages"},
			{Name: "sandbox", Kind: registry.Hosted, Public: ptr(false)},
		},
		OIDC: OIDC{Audience: "pypi.example.internal", Issuers: []Issuer{
			{Name: "github", URL: "https://token.actions.githubusercontent.com", Kind: "github"},
			{Name: "gitlab", URL: "https://gitlab.com", Kind: "gitlab"},
		}},
		Tokens:   Tokens{OIDCTTL: 15 * time.Minute},
		Upstream: Upstream{Timeout: 20 * time.Second, MinRate: 32 << 10, RefreshWait: 2 * time.Second, ErrorBackoff: 15 * time.Second},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("example config (-want +got):\n%s", diff)
	}
	if !c.Repositories[0].IsPublic() || c.Repositories[1].IsPublic() {
		t.Error("IsPublic does not follow public")
	}
}

func TestMinimalAndDefault(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/minimal.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen:   "127.0.0.1:8080",
		DataDir:  "./wharf-data",
		Database: Database{Driver: "sqlite", DSN: "wharf-data/wharf.db", Timeout: DefaultDatabaseTimeout, LockWait: DefaultDatabaseLockWait},
		Blobs:    Blobs{Driver: "fs", Dir: "wharf-data/blobs"},
		HTTP:     HTTP{ReadHeaderTimeout: DefaultReadHeaderTimeout, IdleTimeout: DefaultIdleTimeout, BodyTimeout: DefaultBodyTimeout},
		Upload:   Upload{MaxFileSize: DefaultMaxFileSize, MinRate: DefaultUploadMinRate},
		Log:      Log{Level: "info", Format: "text"},
		OIDC:     OIDC{Audience: "wharf"},
		Tokens:   Tokens{OIDCTTL: DefaultOIDCTTL},
		Upstream: Upstream{Timeout: DefaultUpstreamTimeout, MinRate: DefaultUpstreamMinRate, RefreshWait: DefaultRefreshWait, ErrorBackoff: DefaultErrorBackoff},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("minimal config (-want +got):\n%s", diff)
	}
	d, err := Default(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Default (-want +got):\n%s", diff)
	}
	d, err = Default(env(map[string]string{"WHARF_LISTEN": ":9000", "WHARF_DATA_DIR": "/srv/wharf", "WHARF_LOG_FORMAT": "json"}))
	if err != nil {
		t.Fatal(err)
	}
	if d.Listen != ":9000" || d.DataDir != "/srv/wharf" || d.Blobs.Dir != "/srv/wharf/blobs" || d.Database.DSN.Value() != "/srv/wharf/wharf.db" || d.Log.Format != "json" {
		t.Errorf("Default with WHARF_* variables: %+v", d)
	}
	if _, err := Default(env(map[string]string{"WHARF_LOG_LEVEL": "loud"})); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Errorf("Default with a bad WHARF_LOG_LEVEL: err = %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, "", nil), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen {
		t.Errorf("Listen = %q", c.Listen)
	}
}

func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/typo.yaml", env(nil))
	if err == nil {
		t.Fatal("no error for unknown keys")
	}
	for _, want := range []string{
		`line 2: unknown key "databse" in the top level (known keys: listen, public_url, data_dir, database,`,
		`line 8: unknown key "regoin" in blobs.s3 (known keys: bucket, prefix, region,`,
		`line 11: unknown key "pubic" in repositories[0] (known keys: name, kind, public, description, remote, virtual)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, yml, want string
	}{
		{"wrong type", "tls:\n  self_signed: maybe\n", "line 2: cannot unmarshal !!str `maybe` into bool"},
		{"bad size", "upload:\n  max_file_size: 10 parsecs\n", `line 2: invalid size "10 parsecs": unknown unit "parsecs"`},
		{"size not scalar", "upload:\n  max_file_size: [1]\n", "line 2: a size must be a number"},
		{"bad duration", "tokens:\n  oidc_ttl: soon\n", "line 2: cannot unmarshal !!str `soon` into time.Duration"},
		{"syntax", "listen: [\n", "yaml:"},
		{"two documents", "listen: :1\n---\nlisten: :2\n", "line 2: only one YAML document is allowed"},
		{"duplicate key", "listen: :1\nlisten: :2\n", `mapping key "listen" already defined`},
		{"section not a mapping", "database: sqlite\n", "cannot unmarshal !!str `sqlite` into config.Database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(write(t, tt.yml, nil), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"S3_BUCKET": "pkgs", "S3_HOST": "minio", "S3_PATH_STYLE": "true",
		"S3_KEY_ID": "AKIA1", "S3_SECRET": "s3cr3t-value", "MAX_SIZE": "100MiB",
	}
	c, err := Load("testdata/s3-env.yaml", env(vars))
	if err != nil {
		t.Fatal(err)
	}
	want := S3{Bucket: "pkgs", Endpoint: "http://minio:9000", PathStyle: true, AccessKeyID: "AKIA1", SecretAccessKey: "s3cr3t-value",
		Timeout: DefaultS3Timeout, MinRate: DefaultS3MinRate}
	if diff := cmp.Diff(want, c.Blobs.S3); diff != "" {
		t.Errorf("s3 (-want +got):\n%s", diff)
	}
	if c.Listen != ":8443" || c.Upload.MaxFileSize != 100<<20 {
		t.Errorf("listen %q, max_file_size %d", c.Listen, c.Upload.MaxFileSize)
	}

	delete(vars, "S3_SECRET")
	_, err = Load("testdata/s3-env.yaml", env(vars))
	if err == nil || !strings.Contains(err.Error(), "line 9: blobs.s3.secret_access_key: environment variable S3_SECRET is not set") {
		t.Errorf("missing variable: err = %v", err)
	}
}

func TestExpandInFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		yml  string
		env  map[string]string
		get  func(*Config) string
		want string
	}{
		{"escape", "repositories:\n  - name: main\n    description: 'costs $${HOME} and $$5 and $5'\n", nil,
			func(c *Config) string { return c.Repositories[0].Description }, "costs ${HOME} and $$5 and $5"},
		{"default", "repositories:\n  - name: main\n    description: ${DESC:-none here}\n", nil,
			func(c *Config) string { return c.Repositories[0].Description }, "none here"},
		{"empty default", "public_url: ${URL:-}\n", nil, func(c *Config) string { return c.PublicURL }, ""},
		{"set beats default", "listen: ${L:-:1}\n", map[string]string{"L": ":2"}, func(c *Config) string { return c.Listen }, ":2"},
		{"several", "public_url: https://${HOST}:${PORT}/pypi\n", map[string]string{"HOST": "h", "PORT": "1"},
			func(c *Config) string { return c.PublicURL }, "https://h:1/pypi"},
		{"string field keeps yaml words", "repositories:\n  - name: main\n    description: ${D}\n", map[string]string{"D": "null"},
			func(c *Config) string { return c.Repositories[0].Description }, "null"},
		{"bool field re-resolved", "repositories:\n  - name: main\n    public: ${P}\n", map[string]string{"P": "false"},
			func(c *Config) string { return fmt.Sprint(c.Repositories[0].IsPublic()) }, "false"},
		{"duration field", "tokens:\n  oidc_ttl: ${TTL}\n", map[string]string{"TTL": "30m"},
			func(c *Config) string { return c.Tokens.OIDCTTL.String() }, "30m0s"},
		{"keys are not expanded but values under anchors are", "repositories:\n  - &r\n    name: ${N}\n  - <<: *r\n    name: other\n", map[string]string{"N": "main"},
			func(c *Config) string { return c.Repositories[0].Name + "," + c.Repositories[1].Name }, "main,other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(write(t, tt.yml, nil), env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, yml, want string
	}{
		{"missing", "listen: ${NOPE}\n", "line 1: listen: environment variable NOPE is not set"},
		{"unterminated", "listen: ${NOPE\n", `line 1: listen: unterminated "${"`},
		{"bad name", "listen: ${1X}\n", `line 1: listen: invalid environment variable name "1X"`},
		{"empty name", "listen: ${}\n", `invalid environment variable name ""`},
		{"in a list", "repositories:\n  - name: a\n  - name: ${R}\n", "line 3: repositories[1].name: environment variable R is not set"},
		{"key not expanded", "${K}: 1\n", `unknown key "${K}"`},
		{"all reported", "listen: ${A}\ndata_dir: ${B}\n", "environment variable B is not set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(write(t, tt.yml, nil), env(map[string]string{"K": "listen"}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestSecretFiles(t *testing.T) {
	t.Parallel()
	const dsn = "postgres://wharf:pa55word@db/wharf"
	p := write(t, "database:\n  driver: postgres\n  dsn_file: dsn.txt\nblobs:\n  driver: s3\n  s3:\n    bucket: b\n    access_key_id: AK\n    secret_access_key_file: s3.txt\n",
		map[string]string{"dsn.txt": "\n  " + dsn + "\n", "s3.txt": "sekret\n"})
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.DSN.Value() != dsn || c.Blobs.S3.SecretAccessKey.Value() != "sekret" {
		t.Errorf("secrets not read from files: %q %q", c.Database.DSN.Value(), c.Blobs.S3.SecretAccessKey.Value())
	}
	if want := filepath.Join(filepath.Dir(p), "dsn.txt"); c.Database.DSNFile != want {
		t.Errorf("DSNFile = %q, want it resolved to %q", c.Database.DSNFile, want)
	}

	for _, tt := range []struct {
		name, yml string
		files     map[string]string
		want      string
	}{
		{"both", "database:\n  dsn: x\n  dsn_file: dsn.txt\n", map[string]string{"dsn.txt": "y"},
			"database.dsn_file: set either database.dsn or database.dsn_file, not both"},
		{"missing file", "database:\n  dsn_file: nope.txt\n", nil, "database.dsn_file: open "},
		{"empty file", "blobs:\n  s3:\n    secret_access_key_file: s.txt\n", map[string]string{"s.txt": " \n"},
			"blobs.s3.secret_access_key_file: file "},
		{"both s3", "blobs:\n  s3:\n    secret_access_key: a\n    secret_access_key_file: s.txt\n", map[string]string{"s.txt": "b"},
			"blobs.s3.secret_access_key_file: set either blobs.s3.secret_access_key or blobs.s3.secret_access_key_file, not both"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(write(t, tt.yml, tt.files), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("no *FieldError in %v", err)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	t.Parallel()
	p := write(t, "data_dir: data\nblobs:\n  dir: /abs/blobs\ntls:\n  cert_file: c.pem\n  key_file: k.pem\ndatabase:\n  dsn: db/wharf.db\n", nil)
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	got := []string{c.DataDir, c.Blobs.Dir, c.TLS.CertFile, c.TLS.KeyFile, c.Database.DSN.Value()}
	want := []string{filepath.Join(dir, "data"), "/abs/blobs", filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "db/wharf.db")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	// URIs and postgres DSNs are left alone.
	for yml, dsn := range map[string]string{
		"database:\n  dsn: 'file:wharf.db?mode=rwc'\n":               "file:wharf.db?mode=rwc",
		"database:\n  dsn: ':memory:'\n":                             ":memory:",
		"database:\n  driver: postgres\n  dsn: host=db user=wharf\n": "host=db user=wharf",
	} {
		c, err := Load(write(t, yml, nil), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Database.DSN.Value(); got != dsn {
			t.Errorf("DSN %q rewritten to %q", dsn, got)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const dsn, key = "postgres://u:TOPSECRET1@db/x", "TOPSECRET2"
	c, err := Load(write(t, "database:\n  driver: postgres\n  dsn: ${DSN}\nblobs:\n  driver: s3\n  s3:\n    bucket: b\n    access_key_id: a\n    secret_access_key: ${KEY}\n", nil),
		env(map[string]string{"DSN": dsn, "KEY": key}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.DSN.Value() != dsn {
		t.Fatalf("Value() = %q", c.Database.DSN.Value())
	}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "config", c, "dsn", c.Database.DSN)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "config", c, "dsn", c.Database.DSN)
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c.Database.DSN), "%q": fmt.Sprintf("%q", c.Database.DSN),
		"%x": fmt.Sprintf("%x", c.Blobs.S3.SecretAccessKey), "%d": fmt.Sprintf("%d", c.Database.DSN),
		"Sprint": fmt.Sprint(c.Database.DSN), "String": c.Database.DSN.String(),
		"yaml": string(y), "json": string(j), "slog": logged.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "TOPSECRET") {
			t.Errorf("%s output contains a secret: %s", name, out)
		}
		if name != "%x" && !strings.Contains(out, "[redacted]") {
			t.Errorf("%s output does not say [redacted]: %s", name, out)
		}
	}
	if got := fmt.Sprintf("%q|%v|%#v", c.Database.DSN, c.Database.DSN, c.Database.DSN); got != `"[redacted]"|[redacted]|"[redacted]"` {
		t.Errorf("formats = %s", got)
	}
	if Secret("").String() != "" {
		t.Error("an empty secret should print as empty")
	}
	// A bad config holding a secret: the errors do not show it either.
	_, err = Load(write(t, "database:\n  driver: postgres\n  dsn: ${DSN}\nlisten: nope\npublic_url: https://u:${KEY}@h/\n", nil),
		env(map[string]string{"DSN": dsn, "KEY": key}))
	if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("validation error shows a secret or is missing: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Size
		err  string
	}{
		{"0", 0, ""},
		{"512", 512, ""},
		{"512B", 512, ""},
		{"100MiB", 100 << 20, ""},
		{"100 MiB", 100 << 20, ""},
		{"100mib", 100 << 20, ""},
		{"1GB", 1e9, ""},
		{"1gb", 1e9, ""},
		{"2KB", 2000, ""},
		{"2kB", 2000, ""},
		{"1.5GiB", 3 << 29, ""},
		{"1TiB", 1 << 40, ""},
		{"3TB", 3e12, ""},
		{"", 0, "want a number"},
		{"MiB", 0, "want a number"},
		{"-1", 0, "want a number"},
		{"10 parsecs", 0, `unknown unit "parsecs"`},
		{"1.2.3MB", 0, "is not a number"},
		{"99999999999999999999", 0, "too large"},
		{"9999999TiB", 0, "too large"},
		{"9999999.5TiB", 0, "too large"},
	} {
		got, err := ParseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSize(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for s, want := range map[Size]string{0: "0B", 512: "512B", 1 << 30: "1GiB", 100 << 20: "100MiB", 1536: "1536B", 3 << 40: "3TiB", 1e9: "1000000000B"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", s, got, want)
		}
		if got, err := ParseSize(s.String()); err != nil || got != s {
			t.Errorf("ParseSize(%q) = %d, %v; want round trip to %d", s.String(), got, err, s)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got := (Log{Level: in}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v", in, got)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "plain", "${A}", "$${A}", "${A:-d}", "${", "a$b", "$$", "${A}${B:-}$${C}", "${:-x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := expand(s, func(k string) string {
			if k == "A" {
				return "value"
			}
			return ""
		})
		if err != nil {
			if got != "" {
				t.Fatalf("output %q with error %v", got, err)
			}
			return
		}
		if !strings.Contains(s, "${") && got != s {
			t.Fatalf("expand(%q) = %q, want it unchanged", s, got)
		}
		// Escaping every "${" as "$${" gives back the input literally.
		if lit, err := expand(strings.ReplaceAll(s, "${", "$${"), func(string) string { return "" }); err != nil || lit != s {
			if !strings.Contains(s, "$${") {
				t.Fatalf("escaped %q expands to %q, %v", s, lit, err)
			}
		}
	})
}

func TestDefaultAudience(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "wharf", "https://pypi.example.com": "wharf:pypi.example.com", "https://h:8443/x": "wharf:h:8443"} {
		if got := DefaultAudience(in); got != want {
			t.Errorf("DefaultAudience(%q) = %q, want %q", in, got, want)
		}
	}
}
