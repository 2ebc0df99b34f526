package cli

import (
	"strings"
	"testing"
	"time"
)

func TestRepoCreateRemoteAndVirtual(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := s.env(s.admin)
	r := mustRun(t, env, "repo", "create", "corp", "--kind", "remote", "--upstream", "http://127.0.0.1:9/simple",
		"--auth", "basic", "--username", "ci", "--secret", "corp-pw@3", "--ttl", "5m", "--negative-ttl", "30s",
		"--stale-max-age", "2d", "--min-release-age", "72h", "--cooldown-exception", "Urgent_Fix")
	if r.stdout != "created public remote repository corp\n" || !strings.Contains(r.stderr, "wharf secret grant corp-pw --repo corp") {
		t.Errorf("create remote: stdout %q stderr %q", r.stdout, r.stderr)
	}
	mustRun(t, env, "repo", "create", "tok", "--kind", "remote", "--upstream", "http://127.0.0.1:9/simple/", "--secret", "tok")
	mustRun(t, env, "repo", "create", "mix", "--kind", "virtual", "--member", "local", "--member", "corp",
		"--upload-to", "local", "--merge", "Some.Project")

	list := mustRun(t, env, "repo", "list").stdout
	for _, want := range []string{
		"http://127.0.0.1:9/simple/ auth=basic user=ci secret=corp-pw@3 ttl=5m negative-ttl=30s stale-max-age=2d min-release-age=3d except=urgent-fix",
		"http://127.0.0.1:9/simple/ auth=token secret=tok@latest ttl=10m",
		"members=local,corp upload-to=local merge=some-project",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("repo list lacks %q:\n%s", want, list)
		}
	}

	for _, tt := range []struct {
		msg  string
		args []string
	}{
		{"--member applies to virtual repositories", []string{"--kind", "remote", "--member", "local"}},
		{"--upstream needs --kind remote or virtual", []string{"--upstream", "https://example.com/simple/"}},
		{"--ttl applies to remote repositories", []string{"--kind", "virtual", "--member", "local", "--ttl", "1m"}},
		{"a virtual repository needs members", []string{"--kind", "virtual"}},
		{`--ttl: "soon" is not a duration`, []string{"--kind", "remote", "--ttl", "soon"}},
		{"member 'nope' of virtual repository 'bad' does not exist", []string{"--kind", "virtual", "--member", "nope"}},
		{`unknown --kind "mirror"`, []string{"--kind", "mirror"}},
	} {
		mustFail(t, env, "", tt.msg, append([]string{"repo", "create", "bad"}, tt.args...)...)
	}
}

func TestParseDays(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
		back string
	}{
		{"7d", 7 * 24 * time.Hour, true, "7d"},
		{"72h", 72 * time.Hour, true, "3d"},
		{"90s", 90 * time.Second, true, "1m30s"},
		{"10m", 10 * time.Minute, true, "10m"},
		{"1h30m", 90 * time.Minute, true, "1h30m"},
		{"off", -1, true, "off"},
		{"d", 0, false, ""},
		{"-2d", 0, false, ""},
		{"soon", 0, false, ""},
	} {
		got, err := parseDays(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDays(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
			continue
		}
		if tt.ok {
			if back := fmtDuration(got); back != tt.back {
				t.Errorf("fmtDuration(%v) = %q, want %q", got, back, tt.back)
			}
		}
	}
}
