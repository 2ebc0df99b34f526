package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the release build (scripts/release, -ldflags -X
// github.com/wharf-dev/wharf/internal/cli.version=v1.2.3 and likewise
// commit and commitDate); empty in development builds, where the VCS stamp
// Go embeds (when it does) gives the commit.
var version, commit, commitDate string

// BuildInfo says which wharf this is.
type BuildInfo struct {
	Version   string // release version, or "devel"
	Commit    string // VCS revision, "" when unknown
	BuildDate string // commit time (RFC 3339): reproducible, unlike the wall clock
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string
	Platform  string
}

// Build returns this binary's build information: the release version from
// the linker, the commit from the VCS stamp Go embeds.
func Build() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, BuildDate: commitDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok && b.Commit == "" {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version // go install …@v1.2.3
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.BuildDate = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

func (b BuildInfo) String() string {
	s := "wharf " + b.Version
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified {
			c += "+dirty"
		}
		s += ", commit " + c
	}
	if b.BuildDate != "" {
		s += ", " + b.BuildDate
	}
	return fmt.Sprintf("%s, %s %s", s, b.GoVersion, b.Platform)
}
