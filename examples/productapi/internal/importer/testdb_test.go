package importer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// testDB is a database with the product API's catalogue tables.
type testDB struct {
	*sql.DB
	dialect string
}

// forEachDialect runs fn against a fresh SQLite database, and against a
// fresh PostgreSQL schema when PRODUCTAPI_TEST_DATABASE_URL is set.
func forEachDialect(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		u := os.Getenv("PRODUCTAPI_TEST_DATABASE_URL")
		if u == "" {
			t.Skip("PRODUCTAPI_TEST_DATABASE_URL not set")
		}
		fn(t, newPostgres(t, u))
	})
}

func newSQLite(t testing.TB) testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(sqliteSchema); err != nil {
		t.Fatal(err)
	}
	return testDB{db, "sqlite"}
}

func newPostgres(t testing.TB, base string) testDB {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "importer_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(pgSchema); err != nil {
		t.Fatal(err)
	}
	return testDB{db, "postgres"}
}

// The catalogue tables as the product API's migrations create them.
const pgSchema = `
CREATE TABLE categories (
    id         BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE products (
    asin                 TEXT PRIMARY KEY,
    title                TEXT NOT NULL,
    img_url              TEXT NOT NULL DEFAULT '',
    product_url          TEXT NOT NULL DEFAULT '',
    stars                DOUBLE PRECISION NOT NULL DEFAULT 0,
    reviews              BIGINT NOT NULL DEFAULT 0,
    price                DOUBLE PRECISION NOT NULL DEFAULT 0,
    list_price           DOUBLE PRECISION NOT NULL DEFAULT 0,
    category_id          BIGINT NOT NULL REFERENCES categories(id),
    is_best_seller       BOOLEAN NOT NULL DEFAULT false,
    bought_in_last_month BIGINT NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX products_category_price ON products (category_id, price, asin);
`

const sqliteSchema = `
CREATE TABLE categories (
    id         BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE products (
    asin                 TEXT PRIMARY KEY,
    title                TEXT NOT NULL,
    img_url              TEXT NOT NULL DEFAULT '',
    product_url          TEXT NOT NULL DEFAULT '',
    stars                REAL NOT NULL DEFAULT 0,
    reviews              INTEGER NOT NULL DEFAULT 0,
    price                REAL NOT NULL DEFAULT 0,
    list_price           REAL NOT NULL DEFAULT 0,
    category_id          BIGINT NOT NULL REFERENCES categories(id),
    is_best_seller       INTEGER NOT NULL DEFAULT 0 CHECK (is_best_seller IN (0, 1)),
    bought_in_last_month INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX products_category_price ON products (category_id, price, asin);
`

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
