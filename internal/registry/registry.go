// Package registry holds wharf's domain types (repositories, projects, files,
// tokens, audit events) and the small interfaces the HTTP layer calls. It has
// no implementations: registry/hosted, registry/remote and registry/virtual
// provide them, store persists them.
package registry

import (
	"slices"
	"strings"
	"time"
)

// RepoKind says where a repository's packages come from.
type RepoKind string

const (
	Hosted  RepoKind = "hosted"  // uploaded to wharf
	Remote  RepoKind = "remote"  // pull-through cache of an upstream index
	Virtual RepoKind = "virtual" // ordered list of other repositories
)

// Repository is a named index with its own simple API and upload endpoint.
type Repository struct {
	ID   int64
	Name string // [a-z0-9][a-z0-9._-]*, never a reserved word
	Kind RepoKind
	// Public repositories can be read without a token; uploads always need one.
	Public      bool
	Description string
	CreatedAt   time.Time
}

// Project is a named project inside one repository.
type Project struct {
	ID     int64
	RepoID int64
	Name   string // PEP 503 normalised; the key
	// DisplayName is the spelling of the latest upload's metadata.
	DisplayName string
	CreatedAt   time.Time
}

// Filetype is the legacy upload API's filetype field.
type Filetype string

const (
	Sdist Filetype = "sdist"
	Wheel Filetype = "bdist_wheel"
)

// File is one distribution file of a release.
type File struct {
	ID        int64
	RepoID    int64
	ProjectID int64
	Filename  string
	// Version is the version as the metadata spells it; Release groups
	// files by its PEP 440 canonical form ("1.0" and "1.0.0" are one release).
	Version        string
	Release        string
	Filetype       Filetype
	PythonVersion  string // pyversion form field: "py3", "cp312", "source"
	RequiresPython string
	Size           int64
	SHA256         string // hex, the blob key
	BLAKE2b256     string // hex
	MD5            string // hex
	// MetadataSHA256 is the sha256 of the extracted core metadata file (PEP
	// 658), itself stored as a blob; empty when none was extracted.
	MetadataSHA256 string
	Yanked         bool
	YankedReason   string
	UploadedAt     time.Time
	UploadedBy     string // token ID or principal name, for the audit trail
}

// Action is one thing a token may do.
type Action string

const (
	Read   Action = "read"
	Upload Action = "upload"
	Yank   Action = "yank"
	Delete Action = "delete"
	Admin  Action = "admin" // manage repositories, tokens and everything else
)

// Actions lists every action in a stable order.
var Actions = []Action{Read, Upload, Yank, Delete, Admin}

// Scope limits what a token may touch. Empty Repos or Projects mean "all".
type Scope struct {
	Repos    []string `json:"repos,omitempty"`
	Projects []string `json:"projects,omitempty"` // normalised names or globs ("acme-*")
	Actions  []Action `json:"actions"`
	// Bindings, when set, limit the token to exactly these (repository,
	// project) pairs on top of Repos and Projects, so a token minted for
	// project A in repository X cannot touch A in Y (OIDC exchanges).
	Bindings []Binding `json:"bindings,omitempty"`
}

// Binding is one (repository, project) pair; Project is PEP 503 normalised.
type Binding struct {
	Repo    string `json:"repo"`
	Project string `json:"project"`
}

// Allows reports whether the scope grants action on repo. Project patterns
// are checked separately by auth, which knows glob rules.
func (s Scope) AllowsAction(a Action) bool {
	return slices.Contains(s.Actions, a) || slices.Contains(s.Actions, Admin)
}

// Token is the stored form of an API token. The secret itself is never
// stored; SecretHash is sha256 of it.
type Token struct {
	ID          string // public identifier, part of the token string, safe to log
	SecretHash  []byte
	Description string
	Scope       Scope
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never
	RevokedAt   time.Time // zero: active
	LastUsedAt  time.Time
	// Origin says how the token was made: "admin", "cli", "oidc:<issuer>".
	Origin string
}

// Active reports whether the token can be used at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	ID      int64
	Time    time.Time
	Actor   string // token ID, "cli", "system"
	Action  string // "file.delete", "release.yank", "token.create", "oidc.mint", ...
	Repo    string
	Project string
	Target  string            // filename, version, token ID
	Outcome string            // "ok", "refused"
	Detail  map[string]string // extra fields, never secrets
}

// ReservedNames can never be repository names: they are routes at the root.
var ReservedNames = []string{"api", "metrics", "healthz", "readyz", "static", "ui"}

// ValidRepoName reports whether name is an allowed repository name.
func ValidRepoName(name string) bool {
	if name == "" || len(name) > 64 || strings.HasPrefix(name, "_") || slices.Contains(ReservedNames, name) {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// PublisherRecord is the stored form of a trusted publisher: a CI identity
// allowed to upload one project of one repository with an OIDC ID token.
type PublisherRecord struct {
	ID      int64
	Repo    string
	Project string // PEP 503 normalised
	// Pending publishers may create Project on first use.
	Pending   bool
	Kind      string // github | gitlab | generic
	Issuer    string // exact issuer URL the publisher trusts
	Config    []byte // kind-specific fields, JSON (owned by package oidc)
	CreatedAt time.Time
	CreatedBy string
}
