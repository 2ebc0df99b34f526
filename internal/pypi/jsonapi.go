package pypi

import "strings"

// The PyPI JSON API (GET /pypi/<project>/json and
// /pypi/<project>/<version>/json), in the shape pypi.org serves, so
// updaters, dashboards and audit tools that read it work unchanged. Keys
// PyPI marks deprecated (downloads, has_sig, bugtrack_url) are still sent,
// with PyPI's values, because clients still read them. The `releases` key
// is only on the project endpoint.

// JSONProject is one response.
type JSONProject struct {
	Info            JSONInfo              `json:"info"`
	LastSerial      int64                 `json:"last_serial"`
	Releases        map[string][]JSONFile `json:"releases,omitempty"`
	URLs            []JSONFile            `json:"urls"`
	Vulnerabilities []any                 `json:"vulnerabilities"`
}

// JSONDownloads are download counts; -1 means unknown (PyPI always sends -1).
type JSONDownloads struct {
	LastDay   int64 `json:"last_day"`
	LastMonth int64 `json:"last_month"`
	LastWeek  int64 `json:"last_week"`
}

// JSONInfo is the release's core metadata. Pointers and slices are null
// where PyPI sends null for a field the metadata does not have.
type JSONInfo struct {
	Author                 string            `json:"author"`
	AuthorEmail            string            `json:"author_email"`
	BugtrackURL            *string           `json:"bugtrack_url"`
	Classifiers            []string          `json:"classifiers"` // [] when none
	Description            string            `json:"description"`
	DescriptionContentType *string           `json:"description_content_type"`
	DocsURL                *string           `json:"docs_url"`
	DownloadURL            string            `json:"download_url"`
	Downloads              JSONDownloads     `json:"downloads"`
	Dynamic                []string          `json:"dynamic"`
	HomePage               string            `json:"home_page"`
	Keywords               string            `json:"keywords"`
	License                string            `json:"license"`
	LicenseExpression      *string           `json:"license_expression"`
	LicenseFiles           []string          `json:"license_files"`
	Maintainer             string            `json:"maintainer"`
	MaintainerEmail        string            `json:"maintainer_email"`
	Name                   string            `json:"name"`
	PackageURL             string            `json:"package_url"`
	Platform               *string           `json:"platform"`
	ProjectURL             string            `json:"project_url"`
	ProjectURLs            map[string]string `json:"project_urls"`
	ProvidesExtra          []string          `json:"provides_extra"`
	ReleaseURL             string            `json:"release_url"`
	RequiresDist           []string          `json:"requires_dist"`
	RequiresPython         string            `json:"requires_python"`
	Summary                string            `json:"summary"`
	Version                string            `json:"version"`
	Yanked                 bool              `json:"yanked"`
	YankedReason           *string           `json:"yanked_reason"`
}

// JSONFile is one distribution file. Extension keys (Provenance) are
// namespaced so they never collide with a key PyPI adds.
type JSONFile struct {
	CommentText       string      `json:"comment_text"`
	CoreMetadata      any         `json:"core-metadata"` // false, or {"sha256": ...}
	Digests           JSONDigests `json:"digests"`
	Downloads         int64       `json:"downloads"`
	Filename          string      `json:"filename"`
	HasSig            bool        `json:"has_sig"`
	MD5Digest         string      `json:"md5_digest"`
	Packagetype       string      `json:"packagetype"`
	PythonVersion     string      `json:"python_version"`
	RequiresPython    *string     `json:"requires_python"`
	Size              int64       `json:"size"`
	UploadTime        string      `json:"upload_time"`          // 2006-01-02T15:04:05, UTC
	UploadTimeISO8601 string      `json:"upload_time_iso_8601"` // with microseconds and Z
	URL               string      `json:"url"`
	Yanked            bool        `json:"yanked"`
	YankedReason      *string     `json:"yanked_reason"`
	Provenance        any         `json:"wharf:provenance,omitempty"`
}

// JSONDigests are a file's hex digests; a digest wharf does not know is "".
type JSONDigests struct {
	BLAKE2b256 string `json:"blake2b_256"`
	MD5        string `json:"md5"`
	SHA256     string `json:"sha256"`
}

// ProjectURLMap turns Project-URL values ("Label, https://...") into
// PyPI's label → URL map; nil when there are none.
func ProjectURLMap(values []string) map[string]string {
	if len(values) == 0 {
		return nil
	}
	m := make(map[string]string, len(values))
	for _, v := range values {
		label, u, ok := strings.Cut(v, ",")
		if !ok {
			continue
		}
		m[strings.TrimSpace(label)] = strings.TrimSpace(u)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
