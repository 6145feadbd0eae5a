package invalidation

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

// migrated returns a new, migrated database of dialect.
func migrated(t *testing.T, dialect string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dbtest.URL(t, dialect))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestJournalRecordsListsAndForgets(t *testing.T) {
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			j := NewJournal(migrated(t, dialect))
			add := cachefront.Invalidations{Tags: []string{"products", "product:B1"}, Keys: []string{"productapi:product:B1"}}
			for range 2 { // recording twice keeps one copy
				if err := j.Add(ctx, add); err != nil {
					t.Fatal(err)
				}
			}
			got, err := j.List(ctx)
			slices.Sort(got.Tags)
			if err != nil || !slices.Equal(got.Tags, []string{"product:B1", "products"}) || !slices.Equal(got.Keys, add.Keys) {
				t.Fatalf("List = %+v, %v", got, err)
			}
			if err := j.Remove(ctx, cachefront.Invalidations{Tags: []string{"products"}, Keys: add.Keys}); err != nil {
				t.Fatal(err)
			}
			if got, err := j.List(ctx); err != nil || !slices.Equal(got.Tags, []string{"product:B1"}) || len(got.Keys) != 0 {
				t.Fatalf("List after Remove = %+v, %v", got, err)
			}
		})
	}
}

// An instance that exits during a Redis outage leaves its invalidations in
// the database; the next one applies them before serving the cache.
func TestJournalOutlivesTheInstance(t *testing.T) {
	ctx := context.Background()
	d := migrated(t, "sqlite")
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })

	// The first instance has a client of its own, closed when it "exits".
	frdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	first := cachefront.NewStore(frdb, cachefront.WithJournal(NewJournal(d)), cachefront.WithOperationTimeout(100*time.Millisecond))
	if err := cachefront.New[string](first, "c").Set(ctx, "k", "old", cachefront.WithTags("t")); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	if err := first.InvalidateTags(ctx, "t"); !errors.Is(err, cachefront.ErrUnavailable) {
		t.Fatalf("InvalidateTags with Redis down = %v", err)
	}
	first.Close()
	_ = frdb.Close()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}

	next := cachefront.NewStore(rdb, cachefront.WithJournal(NewJournal(d)))
	t.Cleanup(func() { next.Close() })
	if v, err := cachefront.New[string](next, "c").Get(ctx, "k"); !errors.Is(err, cachefront.ErrNotFound) {
		t.Fatalf("Get on the next instance = %q, %v, want the entry invalidated during the outage gone", v, err)
	}
}
