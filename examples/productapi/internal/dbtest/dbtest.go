// Package dbtest gives tests a fresh, private database of each dialect under
// test: a SQLite file in the test's temporary directory always, and a
// PostgreSQL schema with a random name when PRODUCTAPI_TEST_DATABASE_URL is
// set. The schema is dropped when the test ends, so runs never collide.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvURL names the variable holding the PostgreSQL server for tests.
const EnvURL = "PRODUCTAPI_TEST_DATABASE_URL"

// Dialects returns the dialects to test: "sqlite", plus "postgres" when
// PRODUCTAPI_TEST_DATABASE_URL is set.
func Dialects() []string {
	if os.Getenv(EnvURL) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// URL returns a DATABASE_URL for a new, empty database of dialect, removed
// when t ends.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case "postgres":
		return postgresSchema(t)
	}
	t.Fatalf("dbtest: unknown dialect %q", dialect)
	return ""
}

func postgresSchema(t testing.TB) string {
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skipf("dbtest: %s not set", EnvURL)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "productapi_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	ctx := context.Background()
	// The schema name is generated above from hex digits only.
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("dbtest: creating schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dbtest: dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
