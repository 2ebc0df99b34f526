package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, expands, decodes, completes and validates the file at path.
// Every problem found is reported, joined: unknown keys with their lines,
// missing environment variables, unreadable *_file files, then Validate's
// field errors.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := parse(data, filepath.Dir(abs), getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// parse turns YAML into a validated Config. base is the directory relative
// paths are resolved against ("" leaves them relative to the working
// directory).
func parse(data []byte, base string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := new(Config)
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: only one YAML document is allowed", extra.Line)
	}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		w := walker{getenv: getenv}
		w.walk(root, reflect.TypeFor[Config](), "")
		if len(w.errs) > 0 {
			return nil, errors.Join(w.errs...)
		}
		if err := root.Decode(c); err != nil {
			return nil, err
		}
	}
	if err := c.resolve(base, getenv); err != nil {
		return nil, err
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// walker checks keys against the struct types and expands ${VAR} in values
// in one pass over the node tree, so both kinds of error carry lines and
// dotted paths. (yaml.v3's KnownFields works only on a Decoder, not on an
// already expanded node tree.)
type walker struct {
	getenv func(string) string
	errs   []error
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.AliasNode:
		// The anchor was walked (and expanded) where it was defined.
		return
	case yaml.ScalarNode:
		if n.ShortTag() != "!!str" || !strings.Contains(n.Value, "$") {
			return
		}
		v, err := expand(n.Value, w.getenv)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("line %d: %s: %w", n.Line, path, err))
			return
		}
		n.Value = v
		if t.Kind() == reflect.String && !reflect.PointerTo(t).Implements(unmarshalerType) {
			// A string field keeps the value as written, even "true" or
			// "null".
			n.Tag = "!!str"
		} else if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
			// An unquoted ${PORT} into an int, bool or duration field is
			// resolved again from its expanded text.
			n.Tag = ""
		}
		return
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return // the decoder reports the type mismatch
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				w.walk(v, t, path)
				continue
			}
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				w.errs = append(w.errs, fmt.Errorf("line %d: unknown key %q in %s (known keys: %s)",
					k.Line, k.Value, orTop(path), strings.Join(tagNames(t), ", ")))
				continue
			}
			w.walk(v, f.Type, join(path, k.Value))
		}
	}
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "" && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// expand replaces ${VAR} and ${VAR:-default} with values from getenv and
// $${ with a literal "${". getenv cannot tell unset from empty, so an empty
// variable counts as missing unless a default (possibly empty: ${VAR:-})
// is given.
func expand(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`unterminated "${": close it with "}", or write "$${" for a literal "${"`)
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !validVarName(name) {
				return "", fmt.Errorf("invalid environment variable name %q in \"${%s}\"", name, ref)
			}
			v := getenv(name)
			if v == "" {
				if !hasDef {
					return "", fmt.Errorf("environment variable %s is not set (write ${%s:-value} for a default)", name, name)
				}
				v = def
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// resolve makes relative paths absolute against base and reads the *_file
// secrets into their siblings.
func (c *Config) resolve(base string, getenv func(string) string) error {
	abs := func(p *string) {
		if base != "" && *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Blobs.Dir)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	abs(&c.Database.DSNFile)
	abs(&c.Blobs.S3.SecretAccessKeyFile)
	abs(&c.Secrets.KEKFile)
	for i := range c.Secrets.PreviousKEKFiles {
		abs(&c.Secrets.PreviousKEKFiles[i])
	}
	if (c.Database.Driver == "" || c.Database.Driver == "sqlite") && isPlainPath(string(c.Database.DSN)) {
		p := string(c.Database.DSN)
		abs(&p)
		c.Database.DSN = Secret(p)
	}
	return errors.Join(
		readSecretFile("database.dsn", &c.Database.DSN, c.Database.DSNFile),
		readSecretFile("blobs.s3.secret_access_key", &c.Blobs.S3.SecretAccessKey, c.Blobs.S3.SecretAccessKeyFile),
		c.Secrets.readKEK(getenv),
	)
}

// isPlainPath reports whether a SQLite DSN is a file path (not a file: URI
// or :memory:), so that it can be resolved like the other paths.
func isPlainPath(dsn string) bool {
	return dsn != "" && !strings.HasPrefix(dsn, "file:") && !strings.HasPrefix(dsn, ":")
}

func readSecretFile(field string, dst *Secret, file string) error {
	if file == "" {
		return nil
	}
	if *dst != "" {
		return &FieldError{Field: field + "_file", Msg: "set either " + field + " or " + field + "_file, not both"}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The error names the file, never its content.
		return &FieldError{Field: field + "_file", Msg: err.Error()}
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return &FieldError{Field: field + "_file", Msg: "file " + file + " is empty"}
	}
	*dst = Secret(v)
	return nil
}

// readKEK reads the key text from kek_file or the kek_env variable.
func (s *Secrets) readKEK(getenv func(string) string) error {
	switch {
	case s.KEKFile != "" && s.KEKEnv != "":
		return &FieldError{Field: "secrets.kek_env", Msg: "set either secrets.kek_file or secrets.kek_env, not both"}
	case s.KEKFile != "":
		return readSecretFile("secrets.kek", &s.KEK, s.KEKFile)
	case s.KEKEnv != "":
		if !validVarName(s.KEKEnv) {
			return &FieldError{Field: "secrets.kek_env", Msg: fmt.Sprintf("%q is not an environment variable name", s.KEKEnv)}
		}
		v := strings.TrimSpace(getenv(s.KEKEnv))
		if v == "" {
			return &FieldError{Field: "secrets.kek_env", Msg: "environment variable " + s.KEKEnv + " is not set"}
		}
		s.KEK = Secret(v)
	}
	return nil
}
