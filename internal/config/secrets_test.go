package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretsKEK(t *testing.T) {
	t.Parallel()
	const key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
	p := write(t, "secrets:\n  kek_file: kek.txt\n  previous_kek_files: [old.kek, /abs/older.kek]\n",
		map[string]string{"kek.txt": key + "\n"})
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	want := Secrets{KEKFile: filepath.Join(dir, "kek.txt"),
		PreviousKEKFiles: []string{filepath.Join(dir, "old.kek"), "/abs/older.kek"}, KEK: Secret(key)}
	if diff := cmp.Diff(want, c.Secrets); diff != "" {
		t.Errorf("Secrets (-want +got):\n%s", diff)
	}

	c, err = Load(write(t, "secrets:\n  kek_env: WHARF_KEK\n", nil), env(map[string]string{"WHARF_KEK": " " + key + "\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets.KEK.Value() != key {
		t.Errorf("KEK from the environment = %q", c.Secrets.KEK.Value())
	}
	c, err = Default(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Secrets.KEK != "" || c.Secrets.KEKFile != "" {
		t.Errorf("the embedded default configures a KEK: %+v", c.Secrets)
	}

	for _, tt := range []struct {
		name, yml string
		files     map[string]string
		want      string
	}{
		{"both", "secrets:\n  kek_file: k\n  kek_env: WHARF_KEK\n", map[string]string{"k": key},
			"secrets.kek_env: set either secrets.kek_file or secrets.kek_env, not both"},
		{"unset variable", "secrets:\n  kek_env: WHARF_KEK\n", nil, "secrets.kek_env: environment variable WHARF_KEK is not set"},
		{"bad variable", "secrets:\n  kek_env: 1-X\n", nil, "secrets.kek_env: \"1-X\" is not an environment variable name"},
		{"missing file", "secrets:\n  kek_file: nope\n", nil, "secrets.kek_file: open "},
		{"empty file", "secrets:\n  kek_file: k\n", map[string]string{"k": "\n"}, "secrets.kek_file: file "},
		{"previous is current", "secrets:\n  kek_file: k\n  previous_kek_files: [k]\n", map[string]string{"k": key},
			"secrets.previous_kek_files[0]: is the current secrets.kek_file"},
		{"empty previous", "secrets:\n  previous_kek_files: ['']\n", nil, "secrets.previous_kek_files[0]: must not be empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(write(t, tt.yml, tt.files), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("the error shows the key: %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("no *FieldError in %v", err)
			}
		})
	}
}
