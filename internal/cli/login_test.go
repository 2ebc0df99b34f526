package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeExchange is a wharf with an audience, a GitHub-like ID-token
// endpoint and /api/v1/token/exchange answering answer (or refusing).
type fakeExchange struct {
	srv    *httptest.Server
	form   url.Values
	refuse map[string]string
}

func newFakeExchange(t *testing.T, jwt string) *fakeExchange {
	t.Helper()
	f := &fakeExchange{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_/oidc/audience", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"audience":"wharf"}`)
	})
	mux.HandleFunc("GET /idtoken", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("audience") != "wharf" || r.Header.Get("Authorization") != "bearer req-token" {
			http.Error(w, "bad", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": jwt})
	})
	mux.HandleFunc("POST /api/v1/token/exchange", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.form = r.PostForm
		if f.refuse != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(f.refuse)
			return
		}
		io.WriteString(w, `{"access_token":"wharf-SECRET","token_type":"Bearer","expires_in":3600,"scope":"repo:deps:read","expires_at":"2030-01-01T00:00:00Z"}`)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

func runLogin(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	root.SetArgs(append([]string{"login"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestLoginPipGitHub(t *testing.T) {
	t.Parallel()
	f := newFakeExchange(t, fakeJWT(map[string]any{"aud": "wharf", "ref": "refs/tags/v1"}))
	tmp := t.TempDir()
	ghEnv := filepath.Join(tmp, "github_env")
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_ENV": ghEnv, "RUNNER_TEMP": tmp,
		"ACTIONS_ID_TOKEN_REQUEST_URL": f.srv.URL + "/idtoken", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-token",
	}
	stdout, stderr, err := runLogin(t, env, "--server", f.srv.URL, "--tool", "pip", "--repo", "deps", "--github-env")
	if err != nil {
		t.Fatalf("login: %v\n%s", err, stderr)
	}
	if stdout != "::add-mask::wharf-SECRET\n" {
		t.Errorf("stdout = %q, want only the mask line", stdout)
	}
	if strings.Contains(stderr, "wharf-SECRET") {
		t.Errorf("stderr shows the token:\n%s", stderr)
	}
	if !strings.Contains(stderr, "expires at 2030-01-01 00:00:00 UTC") {
		t.Errorf("stderr does not say when the token expires:\n%s", stderr)
	}
	if diff := cmp.Diff(url.Values{
		"grant_type": {grantTokenExchange}, "subject_token_type": {tokenTypeIDToken},
		"subject_token": {f.form.Get("subject_token")}, "scope": {"repo:deps:read"},
	}, f.form); diff != "" || f.form.Get("subject_token") == "" {
		t.Errorf("exchange form (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(ghEnv)
	if err != nil {
		t.Fatal(err)
	}
	path, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "PIP_CONFIG_FILE=")
	if !ok || !strings.HasPrefix(path, tmp) {
		t.Fatalf("$GITHUB_ENV = %q, want PIP_CONFIG_FILE=<file under RUNNER_TEMP>", b)
	}
	conf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(f.srv.URL)
	want := "[global]\nindex-url = http://__token__:wharf-SECRET@" + u.Host + "/deps/simple/\n"
	if string(conf) != want {
		t.Errorf("pip.conf = %q, want %q", conf, want)
	}
	for p, mode := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), mode)
		}
	}
}

func TestLoginTools(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tool, scope string
		want        []string // export lines (values with the token)
	}{
		{"twine", "repo:local:upload", []string{"TWINE_REPOSITORY_URL='{URL}/local/legacy/'", "TWINE_USERNAME='__token__'", "TWINE_PASSWORD='wharf-SECRET'"}},
		{"uv", "", []string{"UV_DEFAULT_INDEX='http://__token__:wharf-SECRET@{HOST}/local/simple/'", "UV_PUBLISH_URL='{URL}/local/legacy/'",
			"UV_PUBLISH_USERNAME='__token__'", "UV_PUBLISH_PASSWORD='wharf-SECRET'", "UV_PUBLISH_CHECK_URL='http://__token__:wharf-SECRET@{HOST}/local/simple/'"}},
		{"poetry", "", []string{"POETRY_REPOSITORIES_WHARF_URL='{URL}/local/legacy/'", "POETRY_HTTP_BASIC_WHARF_USERNAME='__token__'", "POETRY_HTTP_BASIC_WHARF_PASSWORD='wharf-SECRET'"}},
		{"env", "", []string{"WHARF_SERVER='{URL}'", "WHARF_TOKEN='wharf-SECRET'"}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			t.Parallel()
			f := newFakeExchange(t, "x")
			tokFile := filepath.Join(t.TempDir(), "jwt")
			os.WriteFile(tokFile, []byte(fakeJWT(map[string]any{"aud": "wharf"})+"\n"), 0o600)
			stdout, stderr, err := runLogin(t, map[string]string{"TMPDIR": t.TempDir()}, "--server", f.srv.URL, "--tool", tc.tool, "--id-token-file", tokFile)
			if err != nil {
				t.Fatalf("login: %v\n%s", err, stderr)
			}
			u, _ := url.Parse(f.srv.URL)
			for _, w := range tc.want {
				w = "export " + strings.NewReplacer("{URL}", f.srv.URL, "{HOST}", u.Host).Replace(w) + "\n"
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if strings.Contains(stdout, "::add-mask::") {
				t.Errorf("mask line outside GitHub Actions:\n%s", stdout)
			}
			if got := f.form.Get("scope"); got != tc.scope {
				t.Errorf("scope = %q, want %q", got, tc.scope)
			}
		})
	}
}

func TestLoginRefusalHints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		claims map[string]any
		refuse map[string]string
		want   []string
	}{
		{"branch", map[string]any{"aud": "wharf", "ref": "refs/heads/feature"},
			map[string]string{"error": "invalid_grant", "wharf_code": "invalid-publisher", "error_description": `valid token, but no trust policy matches: claim "ref" is "refs/heads/feature" in your token`},
			[]string{`(invalid_grant, invalid-publisher)`, `claim "ref"`, `wrong branch or tag: the job ran on "refs/heads/feature"`, "ref: refs/heads/feature"}},
		{"audience", map[string]any{"aud": "other"},
			map[string]string{"error": "invalid_grant", "wharf_code": "invalid-token", "error_description": "audience"},
			[]string{`wrong audience: your ID token is for "other" but this server accepts "wharf"`}},
		{"subject", map[string]any{"aud": "wharf", "sub": "repo:acme/demo:pull_request"},
			map[string]string{"error": "invalid_grant", "wharf_code": "invalid-publisher", "error_description": `no trust policy matches: claim "sub" is "x"`},
			[]string{"subject mismatch", "sub: repo:acme/demo:pull_request"}},
		{"reuse", map[string]any{"aud": "wharf"},
			map[string]string{"error": "invalid_grant", "wharf_code": "invalid-reuse-token", "error_description": "used"},
			[]string{"can be exchanged once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeExchange(t, "x")
			f.refuse = tc.refuse
			jwt := fakeJWT(tc.claims)
			_, stderr, err := runLogin(t, map[string]string{"ID": jwt}, "--server", f.srv.URL, "--id-token-env", "ID")
			if err == nil {
				t.Fatalf("login succeeded against a refusal\n%s", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), jwt) {
				t.Error("the error shows the ID token")
			}
		})
	}
}

func TestLoginMissingIDTokenPermission(t *testing.T) {
	t.Parallel()
	f := newFakeExchange(t, "x")
	_, _, err := runLogin(t, map[string]string{"GITHUB_ACTIONS": "true"}, "--server", f.srv.URL)
	if err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("err = %v, want the id-token: write advice", err)
	}
	if f.form != nil {
		t.Error("an exchange was attempted without a token")
	}
}

func TestLoginRefusesBeforeSpendingTheToken(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--server", "http://wharf.example.com"},
		{"--tool", "npm"},
		{"--github-env"}, // GITHUB_ENV unset
	} {
		f := newFakeExchange(t, "x")
		if _, _, err := runLogin(t, map[string]string{"ID": "a.b.c", "WHARF_SERVER": f.srv.URL}, append(args, "--id-token-env", "ID")...); err == nil {
			t.Errorf("%v: no error", args)
		}
		if f.form != nil {
			t.Errorf("%v: the ID token was sent", args)
		}
	}
}

// PIP_CONFIG_FILE=/dev/null is pip's "no configuration": login must leave
// the device alone (never chmod it) and export a private file instead.
func TestLoginPipConfigDevNull(t *testing.T) {
	t.Parallel()
	f := newFakeExchange(t, "x")
	before, err := os.Stat(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runLogin(t, map[string]string{"ID": fakeJWT(map[string]any{"aud": "wharf"}), "PIP_CONFIG_FILE": os.DevNull, "TMPDIR": t.TempDir()},
		"--server", f.srv.URL, "--tool", "pip", "--id-token-env", "ID")
	if err != nil {
		t.Fatalf("login: %v\n%s", err, stderr)
	}
	if !strings.HasPrefix(stdout, "export PIP_CONFIG_FILE='/") || strings.Contains(stdout, os.DevNull) {
		t.Errorf("stdout = %q, want a private PIP_CONFIG_FILE", stdout)
	}
	if after, _ := os.Stat(os.DevNull); after.Mode() != before.Mode() {
		t.Errorf("%s changed mode: %v → %v", os.DevNull, before.Mode(), after.Mode())
	}
	if err := writePrivate(os.DevNull, "x", false); err == nil {
		t.Error("writePrivate wrote to a device")
	}
}
