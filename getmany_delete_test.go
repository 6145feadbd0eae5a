package cachefront

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A batch load that outlives the tombstone of a Delete made during it (a
// cache's or call's WithLoadTimeout may exceed the Store's, which sizes
// tombstones) would find the key absent again, matching the generation it
// saw; GetManyOrLoad does not write so late, as GetOrLoad does not. The
// loader really runs past the tombstone's TTL (shortened for the test);
// miniredis, which expires keys only when told, is moved forward as much.
func TestGetManyOrLoadDoesNotWritePastATombstone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		s := newTestStore(t, b, WithLoadTimeout(time.Millisecond))
		s.e.TombstoneGrace = 600 * time.Millisecond
		c := New[string](s, "gm", WithLoadTimeout(10*time.Minute))
		_, err := c.GetManyOrLoad(ctx, []string{"k"}, func(ctx context.Context, missing []string) (map[string]string, error) {
			// The loader has read the source ("old"). Now the row is
			// deleted and the cache key with it.
			if err := c.Delete(ctx, "k"); err != nil {
				t.Error(err)
			}
			slow := s.e.TombstoneTTL() + 200*time.Millisecond // the load is slow
			time.Sleep(slow)
			if b.mr != nil {
				b.mr.FastForward(slow)
			}
			return map[string]string{"k": "old"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after Delete returned, Get found %q (%v): a batch load that began before it stored its value", v, err)
		}
	})
}
