package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/testbackend"
)

var ctxBG = context.Background()

// newTestEngine returns an engine on b under a namespace of its own.
func newTestEngine(t *testing.T, b *testbackend.Backend) *Engine {
	t.Helper()
	e, err := New(b.RDB, Config{
		Namespace: fmt.Sprintf("e%d", rand.Uint64()), Logger: slog.New(slog.DiscardHandler),
		OpTimeout: 250 * time.Millisecond, BreakerFailures: 5, BreakerCooldown: time.Second,
		TagTTL: time.Hour, LoadTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// stringCache is a cache view whose values are strings stored as they are.
func stringCache(e *Engine, name string) *Cache {
	return &Cache{
		Name: name, TypeHash: 7, Counters: e.Counters(name),
		Encode: func(buf *bytes.Buffer, v any) error {
			s, ok := v.(string)
			if !ok {
				return errors.New("not a string")
			}
			buf.WriteString(s)
			return nil
		},
		Decode: func(payload []byte, _ string) (any, error) { return string(payload), nil },
	}
}

func testCall(e *Engine, tags ...string) *Call {
	return &Call{TTL: time.Minute, LoadTimeout: 5 * time.Second, Tags: e.TagSet(tags)}
}

// set stores value under rkey with call's tags.
func set(t *testing.T, e *Engine, c *Cache, rkey, value string, call *Call) {
	t.Helper()
	if err := e.SetEntry(ctxBG, c, rkey, []byte(value), call); err != nil {
		t.Fatal(err)
	}
}

// readValue reads rkey: its value, or "" when the read found none.
func readValue(t *testing.T, e *Engine, c *Cache, rkey string, call *Call) string {
	t.Helper()
	r, err := e.Read(ctxBG, c, rkey, call.TagSet(e))
	if err != nil {
		t.Fatal(err)
	}
	if r.Found != FoundEntry {
		return ""
	}
	return string(r.View.Payload)
}

func TestSetReadInvalidate(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		e := newTestEngine(t, b)
		c := stringCache(e, "c")
		rkey, _ := e.Keys.Entry("c", "k")
		tagged := testCall(e, "shelf", "aisle")
		set(t, e, c, rkey, "v1", tagged)
		if got := readValue(t, e, c, rkey, tagged); got != "v1" {
			t.Fatalf("read %q, want v1", got)
		}
		// A reader that names no tags finds the entry's tags current too.
		if got := readValue(t, e, c, rkey, testCall(e)); got != "v1" {
			t.Fatalf("read without tags %q, want v1", got)
		}
		if err := e.InvalidateTags(ctxBG, []string{"aisle"}); err != nil {
			t.Fatal(err)
		}
		for _, call := range []*Call{tagged, testCall(e)} {
			r, err := e.Read(ctxBG, c, rkey, call.TagSet(e))
			if err != nil || r.Found != FoundStale {
				t.Fatalf("after InvalidateTags: found %d, %v; want stale", r.Found, err)
			}
		}
		set(t, e, c, rkey, "v2", tagged)
		if err := e.Delete(ctxBG, c, []string{rkey}); err != nil {
			t.Fatal(err)
		}
		if got := readValue(t, e, c, rkey, tagged); got != "" {
			t.Fatalf("after Delete: read %q", got)
		}
		if e.Totals().Invalidations != 1 || e.Totals().Deletes != 1 {
			t.Fatalf("totals %+v", e.Totals())
		}
	})
}

// An entry of another type, or bytes that are no entry, read as nothing and
// are dropped.
func TestForeignAndCorruptEntriesAreDropped(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		e := newTestEngine(t, b)
		c := stringCache(e, "c")
		other := stringCache(e, "c")
		other.TypeHash = 8
		rkey, _ := e.Keys.Entry("c", "k")
		set(t, e, other, rkey, "v", testCall(e))
		if got := readValue(t, e, c, rkey, testCall(e)); got != "" {
			t.Fatalf("read %q from another type's entry", got)
		}
		if n, _ := b.RDB.Exists(ctxBG, rkey).Result(); n != 0 {
			t.Fatal("the foreign entry was kept")
		}
		b.RDB.Set(ctxBG, rkey, "not an entry", time.Minute)
		if got := readValue(t, e, c, rkey, testCall(e)); got != "" {
			t.Fatalf("read %q from garbage", got)
		}
		if errs := c.Counters.Snapshot().Errors; errs != 2 {
			t.Fatalf("%d decode errors counted, want 2", errs)
		}
	})
}

// A load whose snapshot predates an invalidation of its tags does not store
// its result.
func TestStoreLoadedRespectsInvalidationsSinceTheSnapshot(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		e := newTestEngine(t, b)
		c := stringCache(e, "c")
		rkey, _ := e.Keys.Entry("c", "k")
		call := testCall(e, "shelf")
		snap, err := e.Snapshot(ctxBG, c, rkey, call.TagSet(e))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.InvalidateTags(ctxBG, []string{"shelf"}); err != nil {
			t.Fatal(err)
		}
		e.StoreLoaded(ctxBG, StoreRequest{Cache: c, RKey: rkey, Call: call, Snap: &snap}, Loaded{Value: "old"})
		if got := readValue(t, e, c, rkey, call); got != "" {
			t.Fatalf("read %q: a load older than the invalidation was stored", got)
		}

		// A tag the loader added, invalidated after the snapshot: a conflict.
		snap, _ = e.Snapshot(ctxBG, c, rkey, testCall(e).TagSet(e))
		if err := e.InvalidateTags(ctxBG, []string{"late"}); err != nil {
			t.Fatal(err)
		}
		late := e.StoreLoaded(ctxBG, StoreRequest{Cache: c, RKey: rkey, Call: testCall(e), Snap: &snap},
			Loaded{Value: "old", Added: []string{"late"}})
		if !late.conflict {
			t.Fatalf("late check %+v, want a conflict", late)
		}
		if got := readValue(t, e, c, rkey, testCall(e)); got != "" {
			t.Fatalf("read %q: a load whose added tag was invalidated was stored", got)
		}

		// Nothing in between: stored, with the added tag recorded.
		snap, _ = e.Snapshot(ctxBG, c, rkey, call.TagSet(e))
		late = e.StoreLoaded(ctxBG, StoreRequest{Cache: c, RKey: rkey, Call: call, Snap: &snap},
			Loaded{Value: "new", Added: []string{"late"}})
		if late.verified == 0 {
			t.Fatalf("late check %+v, want verified", late)
		}
		if got := readValue(t, e, c, rkey, call); got != "new" {
			t.Fatalf("read %q, want new", got)
		}
		if err := e.InvalidateTags(ctxBG, []string{"late"}); err != nil {
			t.Fatal(err)
		}
		if got := readValue(t, e, c, rkey, call); got != "" {
			t.Fatalf("read %q after invalidating the added tag", got)
		}
	})
}

func TestNewHeader(t *testing.T) {
	now := time.Now()
	call := &Call{TTL: time.Minute, NegativeTTL: time.Second, SWR: time.Hour}
	c := &Cache{TypeHash: 9}
	v := newHeader(c, entry.KindValue, call, now)
	if v.ttl != time.Minute+time.Hour || v.FreshUntil != now.Add(time.Minute).UnixMilli() || v.TypeHash != 9 || v.Gen == "" {
		t.Errorf("value header %+v", v)
	}
	nf := newHeader(c, entry.KindNotFound, call, now)
	if nf.ttl != time.Second || nf.FreshUntil != now.Add(time.Second).UnixMilli() {
		t.Errorf("not-found header %+v: no stale window, the negative TTL", nf)
	}
	if g := newHeader(c, entry.KindValue, call, now); g.Gen == v.Gen {
		t.Error("two headers share a generation")
	}
}
