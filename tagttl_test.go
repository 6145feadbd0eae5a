package cachefront

import (
	"context"
	"testing"
	"time"
)

// A tag that entries keep being written under never expires, so its entries
// never all miss at once because of it; a tag nothing uses goes away.
func TestTagVersionsLiveWhileUsed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		if b.mr == nil {
			t.Skip("needs miniredis's FastForward")
		}
		s := newTestStore(t, b, WithTagTTL(time.Hour))
		c := New[string](s, "c", WithTTL(20*time.Minute), WithTTLJitter(0))
		load := func(context.Context) (string, error) { return "v", nil }
		tagKey := s.e.Keys.Tag("hot")
		for i := 0; i < 5; i++ {
			// Each round writes under the tag (a load after expiry, or a Set).
			key := "k" + string(rune('0'+i))
			if _, err := c.GetOrLoad(ctxBG, key, load, WithTags("hot")); err != nil {
				t.Fatal(err)
			}
			if err := c.Set(ctxBG, "s", "v", WithTags("hot")); err != nil {
				t.Fatal(err)
			}
			b.mr.FastForward(40 * time.Minute)
			if !b.mr.Exists(tagKey) {
				t.Fatalf("round %d: a tag written under every 40 minutes expired with a 1h tag TTL", i)
			}
		}
		b.mr.FastForward(61 * time.Minute)
		if b.mr.Exists(tagKey) {
			t.Fatal("an unused tag version outlived the tag TTL")
		}
	})
}
