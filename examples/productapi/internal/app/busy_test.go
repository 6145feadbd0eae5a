package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/gen"
)

// TestWritesDuringImport registers accounts, one after the other, while an
// admin import of a generated catalogue runs on SQLite: each registration
// waits for its turn between the import's transactions and succeeds, none
// fails with a 500, and none waits anywhere near SQLite's busy timeout.
func TestWritesDuringImport(t *testing.T) {
	// Enough rows for the import to hold SQLite longer than its busy
	// timeout if it did so in one transaction (under -race), as it did
	// when it took the bulk path from the admin routes.
	const rows = 15000
	dir := t.TempDir()
	if err := gen.Write(dir, rows, 13); err != nil {
		t.Fatal(err)
	}
	cats, err := os.ReadFile(filepath.Join(dir, gen.CategoriesFile))
	if err != nil {
		t.Fatal(err)
	}
	prods, err := os.ReadFile(filepath.Join(dir, gen.ProductsFile))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "sqlite", nil)
	e.must(e.do("POST", "/admin/import/categories", e.admin, cats, "Content-Type", "text/csv"), 200)

	done := make(chan *response, 1)
	started := time.Now()
	go func() {
		done <- e.do("POST", "/admin/import/products", e.admin, prods, "Content-Type", "text/csv")
	}()
	var (
		imported *response
		n        int
		slowest  time.Duration
	)
	for imported == nil {
		select {
		case imported = <-done:
			continue
		default:
		}
		begin := time.Now()
		r := e.do("POST", "/auth/register", "", map[string]string{"email": fmt.Sprintf("during-%d@example.com", n), "password": "correct-horse"})
		took := time.Since(begin)
		slowest = max(slowest, took)
		if r.StatusCode != 201 {
			t.Fatalf("registration %d during the import, after %v: status %d, Retry-After %q: %s", n, took, r.StatusCode, r.Header.Get("Retry-After"), r.body)
		}
		n++
	}
	elapsed := time.Since(started)
	if imported.StatusCode != 200 {
		t.Fatalf("import: status %d: %s", imported.StatusCode, imported.body)
	}
	var sum struct{ Inserted, Failed int64 }
	imported.json(t, &sum)
	if sum.Inserted != int64(rows) || sum.Failed != 0 {
		t.Fatalf("import summary %+v, want %d inserted", sum, rows)
	}
	t.Logf("%d rows imported in %v; %d registrations meanwhile, the slowest in %v", rows, elapsed.Round(time.Millisecond), n, slowest.Round(time.Millisecond))
	if slowest >= db.BusyTimeout {
		t.Errorf("a registration took %v, as long as SQLite's busy timeout", slowest)
	}
}

// TestBusyDatabaseIs503 holds SQLite's write lock from another connection,
// as an import from another process (productapi import) does for a long
// transaction: a write that cannot get the lock within the busy timeout is
// answered 503 database_busy with Retry-After, not 500.
func TestBusyDatabaseIs503(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	other, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(e.app.Config.DatabaseURL, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	rollback := func() { once.Do(func() { conn.ExecContext(ctx, "ROLLBACK") }) }
	defer rollback()

	tests := []struct {
		name, method, path string
		body               any
	}{
		{"register", "POST", "/auth/register", map[string]string{"email": "blocked@example.com", "password": "correct-horse"}},
		{"create product", "POST", "/products", map[string]any{"asin": "B0BLOCKED1", "title": "Blocked", "category_id": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(tt.method, tt.path, e.admin, tt.body)
			if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q, want 503 with Retry-After: %s", r.StatusCode, r.Header.Get("Retry-After"), r.body)
			}
			var eb struct{ Error, Message string }
			r.json(t, &eb)
			if eb.Error != "database_busy" || eb.Message == "" {
				t.Fatalf("error body %s, want database_busy", r.body)
			}
		})
	}
	rollback()
	e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "blocked@example.com", "password": "correct-horse"}), 201)
}
