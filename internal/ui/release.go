package ui

import (
	"slices"
	"time"

	"github.com/wharf-dev/wharf/internal/pypi"
	"github.com/wharf-dev/wharf/internal/registry"
)

// release is one version of a project and its files.
type release struct {
	Version   string // as the newest upload spells it
	Canonical string
	Files     []registry.File
	Uploaded  time.Time // the first file's upload
	// Yanked is set when every file is yanked (PEP 592 yanks releases).
	Yanked       bool
	YankedReason string
	parsed       pypi.Version
	ok           bool
}

// releases groups files by release, newest version first.
func releases(files []registry.File) []*release {
	byRel := map[string]*release{}
	var out []*release
	for _, f := range files {
		rel := byRel[f.Release]
		if rel == nil {
			rel = &release{Version: f.Version, Canonical: f.Release, Uploaded: f.UploadedAt, Yanked: true}
			rel.parsed, rel.ok = parseVersion(f.Version)
			byRel[f.Release] = rel
			out = append(out, rel)
		}
		rel.Files = append(rel.Files, f)
		if f.UploadedAt.Before(rel.Uploaded) {
			rel.Uploaded = f.UploadedAt
		}
		if !f.Yanked {
			rel.Yanked = false
		} else if rel.YankedReason == "" {
			rel.YankedReason = f.YankedReason
		}
	}
	slices.SortFunc(out, func(a, b *release) int {
		switch {
		case a.ok && b.ok:
			return pypi.Compare(b.parsed, a.parsed)
		case a.ok:
			return -1
		case b.ok:
			return 1
		}
		return b.Uploaded.Compare(a.Uploaded)
	})
	return out
}

func parseVersion(s string) (pypi.Version, bool) {
	v, err := pypi.ParseVersion(s)
	return v, err == nil
}

// current is the release a project page shows first: the newest that is
// neither yanked nor a pre-release, else the newest not yanked, else the
// newest.
func current(rels []*release) *release {
	if len(rels) == 0 {
		return nil
	}
	for _, r := range rels {
		if !r.Yanked && r.ok && !r.parsed.IsPrerelease() {
			return r
		}
	}
	for _, r := range rels {
		if !r.Yanked {
			return r
		}
	}
	return rels[0]
}

// latest is a listing's summary of a project: its current version and
// its last upload.
func latest(files []registry.File) (version string, last time.Time) {
	for _, f := range files {
		if f.UploadedAt.After(last) {
			last = f.UploadedAt
		}
	}
	if c := current(releases(files)); c != nil {
		version = c.Version
	}
	return version, last
}
