package pypi

import "time"

// APIVersion is the simple repository API version wharf's pages declare.
// 1.1 (PEP 700) is the newest whose features the model carries: versions,
// size and upload-time. 1.2+ (tracks, provenance, project status) would need
// fields the model does not have yet, and a page must not claim a version
// whose required keys it cannot fill.
const APIVersion = "1.1"

// ProjectList is the model of the index root (/{repo}/simple/).
type ProjectList struct {
	// Projects in the order they are rendered; callers sort them (by
	// normalised name, usually) because rendering must not allocate to sort.
	Projects []ProjectEntry
}

// ProjectEntry is one project on the index root.
type ProjectEntry struct {
	Name       string // display name, the link text
	Normalized string // PEP 503 normalised name, the link target
	LastSerial int64
}

// ProjectPage is the model of one project's detail page
// (/{repo}/simple/{project}/).
type ProjectPage struct {
	Name        string // PEP 503 normalised
	DisplayName string // spelling for humans; Name is used when empty
	Files       []FileEntry
	// Versions are already sorted in PEP 440 order by the caller (PEP 700
	// wants every version, also those with no files left).
	Versions   []string
	LastSerial int64
}

// FileEntry is one distribution file on a project page.
type FileEntry struct {
	Filename string
	// URL is where the file is downloaded, absolute or relative to the
	// project page, already percent-encoded, without a fragment: the
	// renderer adds #sha256=. Its last path segment must be Filename.
	URL            string
	SHA256         string // lower-case hex; "" renders no hash
	RequiresPython string // "" = no constraint
	Yanked         bool
	YankedReason   string
	// CoreMetadataSHA256 is the sha256 of the file's core metadata served at
	// URL + ".metadata" (PEP 658/714); "" = no metadata file.
	CoreMetadataSHA256 string
	Size               int64
	UploadTime         time.Time // zero = omitted
	Version            string
}

// displayName is the name shown to humans on a project page.
func (p *ProjectPage) displayName() string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.Name
}

// lastSerial is the index-wide serial of a project list: the highest serial
// of any project in it.
func (l *ProjectList) lastSerial() int64 {
	var n int64
	for i := range l.Projects {
		n = max(n, l.Projects[i].LastSerial)
	}
	return n
}
