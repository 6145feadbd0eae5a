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
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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

// EnvRedis names the variable holding a real Redis for tests; without it
// they run on miniredis in process.
const EnvRedis = "CACHEFRONT_REDIS_ADDR"

// Main runs the tests of a package that uses the backends named in uses
// (EnvURL, EnvRedis) and exits with their status. Afterwards it says which
// of them were not set, so that a run without -v, where go test shows
// nothing of a passing package but its "ok" line, still tells that the
// PostgreSQL or real-Redis runs were skipped: the note goes to the test's
// output, and also straight to the terminal when there is one, since go
// test keeps a passing package's output to itself.
func Main(m *testing.M, uses ...string) {
	code := m.Run()
	var missing []string
	for _, name := range uses {
		if os.Getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		note := skipNote(missing)
		fmt.Print(note)
		if !testing.Verbose() {
			if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
				fmt.Fprint(tty, note)
				tty.Close()
			}
		}
	}
	os.Exit(code)
}

// skipNote is the line Main prints for the unset variables.
func skipNote(missing []string) string {
	var what []string
	for _, name := range missing {
		switch name {
		case EnvURL:
			what = append(what, "PostgreSQL (set "+EnvURL+"=postgres://…)")
		case EnvRedis:
			what = append(what, "a real Redis (set "+EnvRedis+"=host:port; miniredis was used)")
		default:
			what = append(what, name)
		}
	}
	pkg := filepath.Base(os.Args[0])
	pkg = strings.TrimSuffix(strings.TrimSuffix(pkg, ".exe"), ".test")
	return fmt.Sprintf("note: %s: skipped the runs on %s\n", pkg, strings.Join(what, " and "))
}
