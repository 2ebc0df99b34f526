package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wharf-dev/wharf/internal/adminapi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// repoSettingsFlags are the flags of `wharf repo create` that configure
// remote and virtual repositories.
type repoSettingsFlags struct {
	kind                                      string
	upstream, auth, username, secret          string
	ttl, negativeTTL, staleMaxAge, minRelease string
	cooldownExceptions                        []string
	members, merge                            []string
	uploadTo                                  string
}

func (f *repoSettingsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.kind, "kind", "hosted", "hosted, remote (a pull-through cache of an upstream index) or virtual (members served as one index)")
	fs.StringVar(&f.upstream, "upstream", "", "remote: the upstream simple index URL (default "+registry.DefaultUpstream+")")
	fs.StringVar(&f.auth, "auth", "", "remote: upstream authentication: none, basic (--username and --secret) or token (__token__ and --secret)")
	fs.StringVar(&f.username, "username", "", "remote: the upstream user name for --auth basic")
	fs.StringVar(&f.secret, "secret", "", "remote: the secret holding the upstream password or token, NAME or NAME@VERSION (default version latest, resolved on every request)")
	fs.StringVar(&f.ttl, "ttl", "", "remote: how long a fetched page is fresh (default 10m)")
	fs.StringVar(&f.negativeTTL, "negative-ttl", "", "remote: how long an upstream 404 is remembered (default 1m)")
	fs.StringVar(&f.staleMaxAge, "stale-max-age", "", "remote: how long past its freshness a page is still served when the upstream fails (default 7d; off disables)")
	fs.StringVar(&f.minRelease, "min-release-age", "", "remote: hide upstream files uploaded less than this long ago, e.g. 72h or 3d (cooldown)")
	fs.StringArrayVar(&f.cooldownExceptions, "cooldown-exception", nil, "remote: a project exempt from --min-release-age (repeatable)")
	fs.StringArrayVar(&f.members, "member", nil, "virtual: a member repository, in resolution order (repeatable)")
	fs.StringVar(&f.uploadTo, "upload-to", "", "virtual: the hosted member uploads to this repository go to")
	fs.StringArrayVar(&f.merge, "merge", nil, "virtual: a project whose files are merged from every member instead of taken from the first that has it (repeatable)")
}

var (
	remoteFlags  = []string{"upstream", "auth", "username", "secret", "ttl", "negative-ttl", "stale-max-age", "min-release-age", "cooldown-exception"}
	virtualFlags = []string{"member", "upload-to", "merge"}
)

// apply fills the request's kind and settings, refusing flags of another
// kind (a --member on a remote repository is a mistake, not a no-op).
func (f *repoSettingsFlags) apply(cmd *cobra.Command, req *adminapi.CreateRepoRequest) error {
	req.Kind = f.kind
	changed := func(names []string) string {
		for _, n := range names {
			if cmd.Flags().Changed(n) {
				return n
			}
		}
		return ""
	}
	switch registry.RepoKind(f.kind) {
	case registry.Hosted:
		if n := changed(append(remoteFlags, virtualFlags...)); n != "" {
			return fmt.Errorf("--%s needs --kind remote or virtual", n)
		}
	case registry.Remote:
		if n := changed(virtualFlags); n != "" {
			return fmt.Errorf("--%s applies to virtual repositories, not remote ones", n)
		}
		s := &registry.RemoteSettings{Upstream: f.upstream, Auth: f.auth, Username: f.username, CooldownExceptions: f.cooldownExceptions}
		if f.secret != "" {
			s.Secret, s.SecretVersion, _ = strings.Cut(f.secret, "@")
		}
		if s.Auth == "" && s.Secret != "" {
			// A secret without --auth: basic with a username, the
			// PyPI-style token without.
			s.Auth = registry.AuthToken
			if s.Username != "" {
				s.Auth = registry.AuthBasic
			}
		}
		for _, d := range []struct {
			flag, v string
			dst     *registry.Duration
		}{
			{"ttl", f.ttl, &s.TTL}, {"negative-ttl", f.negativeTTL, &s.NegativeTTL},
			{"stale-max-age", f.staleMaxAge, &s.StaleMaxAge}, {"min-release-age", f.minRelease, &s.MinReleaseAge},
		} {
			if d.v == "" {
				continue
			}
			v, err := parseDays(d.v)
			if err != nil {
				return fmt.Errorf("--%s: %w", d.flag, err)
			}
			*d.dst = registry.Duration(v)
		}
		if err := s.Check(); err != nil {
			return err
		}
		req.Remote = s
	case registry.Virtual:
		if n := changed(remoteFlags); n != "" {
			return fmt.Errorf("--%s applies to remote repositories, not virtual ones", n)
		}
		s := &registry.VirtualSettings{Members: f.members, UploadTo: f.uploadTo, Merge: f.merge}
		if len(s.Members) == 0 {
			return fmt.Errorf("a virtual repository needs members: give --member once per repository, in resolution order")
		}
		if err := s.Check(); err != nil {
			return err
		}
		req.Virtual = s
	default:
		return fmt.Errorf("unknown --kind %q: use hosted, remote or virtual", f.kind)
	}
	return nil
}

// parseDays reads a Go duration ("90s", "10m", "72h"), a number of days
// ("7d"), or "off" (a negative duration: the feature disabled).
func parseDays(s string) (time.Duration, error) {
	if s == "off" {
		return -1, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write it like 90s, 10m, 72h or 7d", s)
	}
	return d, nil
}

// fmtDuration writes whole days as "7d" and the rest in Go syntax without
// trailing zero units ("10m", not "10m0s").
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "off"
	case d > 0 && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// settingsSummary is the one-line view `wharf repo list` prints.
func settingsSummary(r adminapi.Repo) string {
	var b strings.Builder
	switch {
	case r.Remote != nil:
		s := r.Remote
		b.WriteString(s.Upstream)
		if s.Auth != "" && s.Auth != registry.AuthNone {
			fmt.Fprintf(&b, " auth=%s", s.Auth)
			if s.Username != "" {
				fmt.Fprintf(&b, " user=%s", s.Username)
			}
			v := s.SecretVersion
			if v == "" {
				v = "latest"
			}
			fmt.Fprintf(&b, " secret=%s@%s", s.Secret, v)
		}
		fmt.Fprintf(&b, " ttl=%s negative-ttl=%s stale-max-age=%s", fmtDuration(s.TTL.D()), fmtDuration(s.NegativeTTL.D()), fmtDuration(s.StaleMaxAge.D()))
		if s.MinReleaseAge > 0 {
			fmt.Fprintf(&b, " min-release-age=%s", fmtDuration(s.MinReleaseAge.D()))
			if len(s.CooldownExceptions) > 0 {
				fmt.Fprintf(&b, " except=%s", strings.Join(s.CooldownExceptions, ","))
			}
		}
	case r.Virtual != nil:
		s := r.Virtual
		fmt.Fprintf(&b, "members=%s", strings.Join(s.Members, ","))
		if s.UploadTo != "" {
			fmt.Fprintf(&b, " upload-to=%s", s.UploadTo)
		}
		if len(s.Merge) > 0 {
			fmt.Fprintf(&b, " merge=%s", strings.Join(s.Merge, ","))
		}
	default:
		return "-"
	}
	return b.String()
}
