// Package testenv gives tests the real backing services that scripts/test
// starts (PostgreSQL, an S3-compatible server). Without them a test is
// skipped locally and fails in CI (CI=true), where a skipped backend would
// hide a broken one. Only tests import it.
package testenv

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

func need(tb testing.TB, env, how string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set; CI must run these tests (%s)", env, how)
		}
		tb.Skipf("set %s to run these tests (%s)", env, how)
	}
	return v
}

// PostgresDSN returns a DSN for a fresh, empty schema (named prefix plus
// random letters) on the database WHARF_TEST_POSTGRES_URL names, dropped
// when the test ends.
func PostgresDSN(tb testing.TB, prefix string) string {
	tb.Helper()
	base := need(tb, "WHARF_TEST_POSTGRES_URL", `eval "$(scripts/start-postgres.sh)"`)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("WHARF_TEST_POSTGRES_URL: %v", err)
	}
	tb.Cleanup(func() { admin.Close() })
	// rand.Text is base32: letters and digits, safe unquoted once lowered.
	schema := prefix + strings.ToLower(rand.Text()[:16])
	if _, err := admin.ExecContext(tb.Context(), `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("WHARF_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// S3 is the S3-compatible server scripts/start-s3.sh started.
type S3 struct {
	Endpoint, Bucket, AccessKeyID, SecretAccessKey string
}

// S3Server returns the test S3 server from WHARF_TEST_S3_*.
func S3Server(tb testing.TB) S3 {
	tb.Helper()
	ep := need(tb, "WHARF_TEST_S3_ENDPOINT", `eval "$(scripts/start-s3.sh)"`)
	return S3{
		Endpoint:        ep,
		Bucket:          os.Getenv("WHARF_TEST_S3_BUCKET"),
		AccessKeyID:     os.Getenv("WHARF_TEST_S3_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("WHARF_TEST_S3_SECRET_ACCESS_KEY"),
	}
}
