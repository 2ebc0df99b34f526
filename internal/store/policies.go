package store

import (
	"context"
	"time"
)

// PolicyRecord is a stored trust policy. The policy itself is opaque JSON
// to the store; package oidc owns its meaning.
type PolicyRecord struct {
	ID        int64
	Name      string // unique
	Issuer    string
	Config    []byte // JSON
	CreatedAt time.Time
	CreatedBy string
}

// Policies persists trust policies.
type Policies interface {
	// Create inserts p, setting ID and CreatedAt; ErrExists if the name is taken.
	Create(ctx context.Context, p *PolicyRecord) error
	// Get finds a policy by name.
	Get(ctx context.Context, name string) (PolicyRecord, error)
	// List returns every policy ordered by name.
	List(ctx context.Context) ([]PolicyRecord, error)
	// Delete removes a policy by name.
	Delete(ctx context.Context, name string) error
}
