package importer

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

// testDB is a database with the product API's catalogue tables.
type testDB struct {
	*sql.DB
	dialect string
}

// forEachDialect runs fn against a fresh SQLite database, and against a
// fresh PostgreSQL schema when PRODUCTAPI_TEST_DATABASE_URL is set, each
// created by the product API's own migrations.
func forEachDialect(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(dbtest.EnvURL) == "" {
			t.Skip(dbtest.EnvURL + " not set")
		}
		fn(t, newMigrated(t, "postgres"))
	})
}

func newSQLite(t testing.TB) testDB { return newMigrated(t, "sqlite") }

// newMigrated opens a fresh database of dialect with the product API's
// schema.
func newMigrated(t testing.TB, dialect string) testDB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, dbtest.URL(t, dialect))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return testDB{d.DB, dialect}
}

// storedProduct is a products row as read back, timestamps as text.
type storedProduct struct {
	product
	created, updated string
}

func (db testDB) products(t *testing.T) map[string]storedProduct {
	t.Helper()
	rows, err := db.Query(`SELECT ` + productColumns + `, CAST(created_at AS TEXT), CAST(updated_at AS TEXT) FROM products`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]storedProduct{}
	for rows.Next() {
		var p storedProduct
		var best any
		if err := rows.Scan(&p.asin, &p.title, &p.imgURL, &p.productURL, &p.stars, &p.reviews, &p.price,
			&p.listPrice, &p.categoryID, &best, &p.bought, &p.created, &p.updated); err != nil {
			t.Fatal(err)
		}
		switch v := best.(type) {
		case bool:
			p.bestSeller = v
		case int64:
			p.bestSeller = v != 0
		default:
			t.Fatalf("is_best_seller scanned as %T", best)
		}
		out[p.asin] = p
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (db testDB) categories(t *testing.T) map[int64]string {
	t.Helper()
	rows, err := db.Query(`SELECT id, name FROM categories`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		out[id] = name
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// importCategories imports csv, failing the test on error.
func (db testDB) importCategories(t *testing.T, csv string, opts Options) Summary {
	t.Helper()
	s, err := New(db.DB, db.dialect).ImportCategories(context.Background(), strings.NewReader(csv), opts)
	if err != nil {
		t.Fatalf("ImportCategories: %v", err)
	}
	return s
}

func (db testDB) importProducts(t *testing.T, csv string, opts Options) Summary {
	t.Helper()
	s, err := New(db.DB, db.dialect).ImportProducts(context.Background(), strings.NewReader(csv), opts)
	if err != nil {
		t.Fatalf("ImportProducts: %v", err)
	}
	return s
}
