package db_test

import (
	"context"
	"errors"
	"sync"
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

// TestMigrateConcurrently starts several migrators at once on a fresh
// database, as instances starting together do: each must succeed, and
// every migration must be applied exactly once. A few rounds, because the
// race it guards against (CREATE TABLE IF NOT EXISTS on an empty
// PostgreSQL database before the lock) does not lose every time.
func TestMigrateConcurrently(t *testing.T) {
	const rounds, migrators = 5, 6
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			for round := range rounds {
				url := dbtest.URL(t, dialect)
				dbs := make([]*db.DB, migrators)
				for i := range dbs {
					d, err := db.Open(ctx, url)
					if err != nil {
						t.Fatal(err)
					}
					defer d.Close()
					dbs[i] = d
				}
				var wg sync.WaitGroup
				applied := make([][]string, migrators)
				errs := make([]error, migrators)
				start := make(chan struct{})
				for i, d := range dbs {
					wg.Go(func() {
						<-start
						applied[i], errs[i] = d.Migrate(ctx)
					})
				}
				close(start)
				wg.Wait()
				count := map[string]int{}
				for i := range dbs {
					if errs[i] != nil {
						t.Fatalf("round %d: migrator %d: %v", round, i, errs[i])
					}
					for _, name := range applied[i] {
						count[name]++
					}
				}
				if len(count) == 0 {
					t.Fatalf("round %d: no migrator applied anything", round)
				}
				for name, n := range count {
					if n != 1 {
						t.Fatalf("round %d: %s applied %d times", round, name, n)
					}
				}
			}
		})
	}
}
