package registry

import (
	"encoding/json"
	"time"

	"github.com/wharf-dev/wharf/internal/pypi"
)

// CoreMetadata is a file's core metadata (METADATA, PKG-INFO) as parsed once
// at upload, with the fields PyPI's JSON API exposes. It is stored as JSON,
// so the field names are part of the stored format.
type CoreMetadata struct {
	MetadataVersion        string   `json:"metadata_version,omitempty"`
	Name                   string   `json:"name,omitempty"`
	Version                string   `json:"version,omitempty"`
	Summary                string   `json:"summary,omitempty"`
	Description            string   `json:"description,omitempty"`
	DescriptionContentType string   `json:"description_content_type,omitempty"`
	Keywords               string   `json:"keywords,omitempty"`
	HomePage               string   `json:"home_page,omitempty"`
	DownloadURL            string   `json:"download_url,omitempty"`
	Author                 string   `json:"author,omitempty"`
	AuthorEmail            string   `json:"author_email,omitempty"`
	Maintainer             string   `json:"maintainer,omitempty"`
	MaintainerEmail        string   `json:"maintainer_email,omitempty"`
	License                string   `json:"license,omitempty"`
	LicenseExpression      string   `json:"license_expression,omitempty"`
	LicenseFiles           []string `json:"license_files,omitempty"`
	RequiresPython         string   `json:"requires_python,omitempty"`
	Classifiers            []string `json:"classifiers,omitempty"`
	RequiresDist           []string `json:"requires_dist,omitempty"`
	ProvidesExtra          []string `json:"provides_extra,omitempty"`
	ProjectURLs            []string `json:"project_urls,omitempty"` // "Label, https://..." as written
	Platforms              []string `json:"platforms,omitempty"`
	Dynamic                []string `json:"dynamic,omitempty"`
}

// Provenance kinds: how a file arrived.
const (
	ProvenanceToken   = "token"              // uploaded with an API token
	ProvenanceTrusted = "trusted-publishing" // uploaded with a token minted by an OIDC exchange
	ProvenanceRemote  = "remote"             // cached from an upstream index
	ProvenanceUnknown = "unknown"            // uploaded before wharf recorded provenance
)

// Provenance records how one file arrived. It is stored as JSON; empty
// fields are omitted.
type Provenance struct {
	Kind string `json:"kind"`
	// API token (both kinds of upload): its ID and description.
	TokenID          string `json:"token_id,omitempty"`
	TokenDescription string `json:"token_description,omitempty"`
	// Trusted publishing: the publisher(s) that matched, the issuer and
	// the claims that identify the CI run (GitLab's are mapped onto the
	// same names: project_path → repository, ci_config_ref_uri →
	// workflow_ref, ref_path → ref, pipeline_id → run_id).
	Publisher   string `json:"publisher,omitempty"`
	Issuer      string `json:"issuer,omitempty"`
	Repository  string `json:"repository,omitempty"`
	WorkflowRef string `json:"workflow_ref,omitempty"`
	Ref         string `json:"ref,omitempty"`
	SHA         string `json:"sha,omitempty"`
	RunID       string `json:"run_id,omitempty"`
	RunAttempt  string `json:"run_attempt,omitempty"`
	Environment string `json:"environment,omitempty"`
	Event       string `json:"event,omitempty"`
	// Upload: when, and the client's User-Agent.
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	UserAgent  string    `json:"user_agent,omitempty"`
	// Remote caches: the upstream URL and when it was fetched.
	Upstream  string    `json:"upstream,omitempty"`
	FetchedAt time.Time `json:"fetched_at,omitzero"`
	// Attestations are the PEP 740 attestations uploaded with the file (uv
	// and twine --attestations send them), kept as sent so that a later
	// verification has them; AttestationsStatus says what was checked of
	// them: "unverified" (only that they are a JSON array of objects).
	Attestations       json.RawMessage `json:"attestations,omitempty"`
	AttestationsStatus string          `json:"attestations_status,omitempty"`
}

// AttestationsUnverified marks attestations kept without verification.
const AttestationsUnverified = "unverified"

// FileDetails is what wharf learned about a file beyond its row: its parsed
// core metadata (nil when none could be read) and its provenance.
type FileDetails struct {
	FileID     int64
	Metadata   *CoreMetadata
	Provenance Provenance
}

// MetadataOf is the stored form of parsed core metadata.
func MetadataOf(m pypi.Metadata) *CoreMetadata {
	return &CoreMetadata{
		MetadataVersion: m.MetadataVersion, Name: m.Name, Version: m.Version,
		Summary: m.Summary, Description: m.Description, DescriptionContentType: m.DescriptionContentType,
		Keywords: m.Keywords, HomePage: m.HomePage, DownloadURL: m.DownloadURL,
		Author: m.Author, AuthorEmail: m.AuthorEmail, Maintainer: m.Maintainer, MaintainerEmail: m.MaintainerEmail,
		License: m.License, LicenseExpression: m.LicenseExpression, LicenseFiles: m.LicenseFiles,
		RequiresPython: m.RequiresPython, Classifiers: m.Classifiers, RequiresDist: m.RequiresDist,
		ProvidesExtra: m.ProvidesExtra, ProjectURLs: m.ProjectURLs, Platforms: m.Platforms, Dynamic: m.Dynamic,
	}
}
