package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/oidc"
)

func TestPublisherCommands(t *testing.T) {
	t.Parallel()
	s := newTestServerWith(t, withIssuers)
	env := s.env(s.admin)
	addRelease(t, s.srv, "local", "demo", "1.0", "demo-1.0-py3-none-any.whl")

	github := []string{"github", "--owner", "acme", "--owner-id", "1234", "--repository", "demo", "--workflow", "release.yml"}
	for _, tt := range []struct {
		args           []string
		stdout, stderr string
	}{
		{append([]string{"publisher", "add", "--repo", "local", "--project", "Demo"}, append(github, "--environment", "pypi")...),
			"added publisher 1 for local/demo: github acme/demo release.yml env=pypi\n", "upload URL for the publish step: " + s.url + "/local/legacy/"},
		// Shared flags after the kind work too; a full GitLab path splits.
		{[]string{"publisher", "add", "gitlab", "--repo", "local", "--project", "demo", "--gitlab-project", "grp/sub/demo", "--environment", "release"},
			"added publisher 2 for local/demo: gitlab grp/sub/demo .gitlab-ci.yml env=release\n", ""},
		{[]string{"publisher", "add", "--repo", "local", "--project", "New.Thing", "--pending", "generic",
			"--issuer", "https://ci.example.com", "--claim", "team=infra", "--claim", "ref=refs/heads/main", "--claim", "note=two words"},
			"added publisher 3 for local/new-thing: generic https://ci.example.com note=\"two words\" ref=refs/heads/main team=infra\n",
			"pending: its first publish creates project new-thing"},
		{append([]string{"publisher", "add", "--repo", "local", "--project", "demo"}, append(github[:len(github)-1], "ci.yaml",
			"--issuer", "https://token.actions.githubusercontent.com/acme-corp", "--repository-id", "99",
			"--job-workflow-ref", "acme/shared/.github/workflows/p.yml@refs/tags/v*", "--allow-event", "push,release")...),
			"added publisher 4 for local/demo: github acme/demo ci.yaml repository_id=99 job=acme/shared/.github/workflows/p.yml@refs/tags/v* events=push,release issuer=https://token.actions.githubusercontent.com/acme-corp\n", ""},
	} {
		r := mustRun(t, env, tt.args...)
		if r.stdout != tt.stdout || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("wharf %s:\nstdout %q\nwant   %q\nstderr %q, want it to contain %q", strings.Join(tt.args, " "), r.stdout, tt.stdout, r.stderr, tt.stderr)
		}
	}

	r := mustRun(t, env, "publisher", "list")
	var got [][]string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		got = append(got, strings.Fields(l)[:5])
	}
	want := [][]string{
		{"ID", "REPO", "PROJECT", "PENDING", "PUBLISHER"},
		{"1", "local", "demo", "no", "github"},
		{"2", "local", "demo", "no", "gitlab"},
		{"3", "local", "new-thing", "yes", "generic"},
		{"4", "local", "demo", "no", "github"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("publisher list (-want +got):\n%s\n%s", diff, r.stdout)
	}
	if !strings.Contains(r.stdout, "github acme/demo release.yml env=pypi\n") {
		t.Errorf("list does not summarise the identity:\n%s", r.stdout)
	}

	r = mustRun(t, env, "publisher", "list", "--repo", "local", "--project", "NEW_THING", "--json")
	var pubs []adminapi.PublisherInfo
	if err := json.Unmarshal([]byte(r.stdout), &pubs); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	wantPub := oidc.Publisher{ID: 3, Repo: "local", Project: "new-thing", Pending: true, Kind: "generic",
		Generic: &oidc.GenericPublisher{Issuer: "https://ci.example.com", Claims: map[string]string{"team": "infra", "ref": "refs/heads/main", "note": "two words"}}}
	if len(pubs) != 1 || pubs[0].CreatedBy == "" {
		t.Fatalf("list --json = %+v, want one publisher with its creator", pubs)
	}
	pubs[0].CreatedAt = wantPub.CreatedAt
	if diff := cmp.Diff(wantPub, pubs[0].Publisher); diff != "" {
		t.Errorf("list --json (-want +got):\n%s", diff)
	}

	r = mustRun(t, env, "publisher", "remove", "1")
	if r.stdout != "removed publisher 1\n" {
		t.Errorf("remove: stdout %q", r.stdout)
	}
	mustFail(t, env, "", "wharf: publisher 1 does not exist ('wharf publisher list' shows the IDs)", "publisher", "remove", "1")
	r = mustRun(t, env, "publisher", "list", "--repo", "local", "--project", "demo")
	if n := strings.Count(r.stdout, "\n"); n != 3 || strings.Contains(r.stdout, "\n1 ") {
		t.Errorf("after remove, list --project demo:\n%s", r.stdout)
	}

	r = mustRun(t, env, "audit", "--action", "publisher.")
	for _, w := range []string{"publisher.remove  local  demo", "publisher.add     local  new-thing", "owner=acme", "workflow=release.yml"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("audit lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestPublisherBadInput(t *testing.T) {
	t.Parallel()
	s := newTestServerWith(t, withIssuers)
	env := s.env(s.admin)
	addRelease(t, s.srv, "local", "demo", "1.0", "demo-1.0-py3-none-any.whl")
	mustRun(t, env, "repo", "create", "other")
	otherAdmin := strings.TrimSpace(mustRun(t, env, "token", "create", "--repo", "other", "--actions", "admin").stdout)

	add := func(extra ...string) []string {
		return append([]string{"publisher", "add", "--repo", "local", "--project", "demo"}, extra...)
	}
	gh := func(extra ...string) []string {
		return add(append([]string{"github", "--owner", "acme", "--owner-id", "1234", "--repository", "demo", "--workflow", "release.yml"}, extra...)...)
	}
	for _, tt := range []struct {
		name  string
		token string
		args  []string
		msg   string
	}{
		{"no kind", "", add(), "name the CI system: 'wharf publisher add github', 'gitlab' or 'generic'"},
		{"unknown kind", "", add("jenkins"), `unknown command "jenkins"`},
		{"no repo", "", []string{"publisher", "add", "--project", "demo", "generic", "--issuer", "https://x.example", "--claim", "a=b"}, "--repo and --project are required"},
		{"no owner id", "", add("github", "--owner", "acme", "--repository", "demo", "--workflow", "release.yml"),
			"--owner-id is required: the numeric ID of acme, the \"id\" at https://api.github.com/users/acme"},
		{"server names the fields", "", add("github", "--owner", "acme", "--owner-id", "12x", "--repository", "demo", "--workflow", ".github/workflows/release.yml"),
			"wharf: github.owner_id: required"},
		{"server names each field", "", add("github", "--owner", "acme", "--owner-id", "12", "--repository", "demo", "--workflow", "release"),
			"github.workflow: \"release\" must be a workflow file name"},
		{"bad claim", "", add("generic", "--issuer", "https://ci.example.com", "--claim", "nokey"), `--claim "nokey": write it as name=value`},
		{"twice the same claim", "", add("generic", "--issuer", "https://ci.example.com", "--claim", "a=1", "--claim", "a=2"), "--claim a is given twice"},
		{"sub only", "", add("generic", "--issuer", "https://ci.example.com", "--claim", "sub=repo:x"), "at least one claim other than sub"},
		{"pending but exists", "", add("--pending", "github", "--owner", "acme", "--owner-id", "1", "--repository", "d", "--workflow", "r.yml"),
			"wharf: project exists: add a normal publisher"},
		{"normal but missing", "", []string{"publisher", "add", "--repo", "local", "--project", "ghost", "gitlab", "--namespace", "g", "--gitlab-project", "p"},
			"project 'ghost' does not exist in repository 'local': add a pending publisher"},
		{"missing repo", "", []string{"publisher", "add", "--repo", "nope", "--project", "demo", "gitlab", "--namespace", "g", "--gitlab-project", "p"},
			"repository 'nope' does not exist"},
		{"other repo's admin", otherAdmin, gh(), "isn't allowed to access repository 'local'"},
		{"other repo's admin lists", otherAdmin, []string{"publisher", "list", "--repo", "local"}, "isn't allowed to access repository 'local'"},
		{"remove not a number", "", []string{"publisher", "remove", "abc"}, `"abc" is not a publisher ID`},
		{"remove missing", "", []string{"publisher", "remove", "42"}, "publisher 42 does not exist"},
		{"remove needs an ID", "", []string{"publisher", "remove"}, "accepts 1 arg(s)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env
			if tt.token != "" {
				e = s.env(tt.token)
			}
			mustFail(t, e, "", tt.msg, tt.args...)
		})
	}
}
