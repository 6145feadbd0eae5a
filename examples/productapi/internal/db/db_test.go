package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		d    db.Dialect
		in   string
		want string
	}{
		{db.SQLite, "SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = ? AND b = ?"},
		{db.Postgres, "SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{db.Postgres, "SELECT 1", "SELECT 1"},
	}
	for _, tt := range tests {
		if got := tt.d.Rebind(tt.in); got != tt.want {
			t.Errorf("%s.Rebind(%q) = %q, want %q", tt.d, tt.in, got, tt.want)
		}
	}
}

func TestOpenRejectsUnknownURLs(t *testing.T) {
	for _, u := range []string{"", "mysql://x", "sqlite:", "sqlite:a?b", "http://x"} {
		if _, err := db.Open(context.Background(), u); !errors.Is(err, db.ErrUnsupportedURL) {
			t.Errorf("Open(%q) = %v, want ErrUnsupportedURL", u, err)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			d, err := db.Open(ctx, dbtest.URL(t, dialect))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if string(d.Dialect) != dialect {
				t.Fatalf("dialect %q, want %q", d.Dialect, dialect)
			}
			applied, err := d.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) == 0 {
				t.Fatal("first Migrate applied nothing")
			}
			again, err := d.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
			}
			now := time.Now()
			if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`INSERT INTO categories (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`),
				1, "Books", d.Dialect.TimeArg(now), d.Dialect.TimeArg(now)); err != nil {
				t.Fatal(err)
			}
			var got db.Time
			if err := d.QueryRowContext(ctx, `SELECT created_at FROM categories`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if d := got.Sub(now); d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("timestamp round trip: got %v, want %v", got.Time, now)
			}
			_, err = d.ExecContext(ctx, d.Dialect.Rebind(`INSERT INTO products (asin, title, category_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`),
				"B000000001", "x", 999, d.Dialect.TimeArg(now), d.Dialect.TimeArg(now))
			if !db.IsForeignKeyViolation(err) {
				t.Errorf("product in a missing category: %v, want a foreign-key violation", err)
			}
		})
	}
}
