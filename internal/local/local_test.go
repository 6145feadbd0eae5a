package local

import (
	"slices"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/vmihailenco/msgpack/v5"
)

func newTier(t *testing.T) (*Tier, keyspace.Keyspace) {
	t.Helper()
	ks := keyspace.New("ns")
	l, err := New(100, time.Minute, ks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.cache.StopAllGoroutines()
		l.clock.Stop()
	})
	l.setHealthy(true)
	return l, ks
}

func put(t *testing.T, l *Tier, ks keyspace.Keyspace, key string, tags ...string) string {
	t.Helper()
	rkey, _ := ks.Entry("c", key)
	l.Put(rkey, &Entry{Value: key, TypeHash: 7, Tags: tags}, l.EpochNow(), time.Now().Add(time.Minute).UnixMilli())
	return rkey
}

func has(l *Tier, key string) bool {
	p, _ := keyspace.EntryKey("c", key)
	_, ok := l.Get(p, 7)
	return ok
}

func TestApplyEvictsByKeyAndTag(t *testing.T) {
	l, ks := newTier(t)
	a := put(t, l, ks, "a", "x")
	put(t, l, ks, "b", "y")
	put(t, l, ks, "c", "x", "y")
	if !has(l, "a") || !has(l, "b") || !has(l, "c") {
		t.Fatal("entries not held")
	}
	p, _ := keyspace.EntryKey("c", "b")
	if _, ok := l.Get(p, 8); ok {
		t.Fatal("an entry of another type was served")
	}
	l.Apply(Event{Tags: []string{"x"}})
	if has(l, "a") || has(l, "c") || !has(l, "b") {
		t.Fatal("tag x evicted the wrong entries")
	}
	l.Apply(Event{Keys: []string{a, ks.Join(p)}})
	if has(l, "b") {
		t.Fatal("the key event left its entry")
	}
}

// A value read before an event arrived is not put after it: it may be what
// the event invalidated.
func TestPutAfterAnEventIsRefused(t *testing.T) {
	l, ks := newTier(t)
	epoch := l.EpochNow()
	l.Apply(Event{Tags: []string{"x"}})
	rkey, _ := ks.Entry("c", "k")
	l.Put(rkey, &Entry{Value: "old", TypeHash: 7}, epoch, time.Now().Add(time.Minute).UnixMilli())
	if has(l, "k") {
		t.Fatal("a value read before the event was kept")
	}
}

// While events are not arriving the tier serves and keeps nothing.
func TestUnhealthyTierIsBypassed(t *testing.T) {
	l, ks := newTier(t)
	put(t, l, ks, "k")
	l.setHealthy(false)
	if has(l, "k") || l.Healthy() {
		t.Fatal("an unhealthy tier served an entry")
	}
	put(t, l, ks, "k2")
	l.setHealthy(true)
	if has(l, "k2") || l.Len() != 0 {
		t.Fatal("an entry put while unhealthy survived the flush")
	}
}

func TestEventsRoundTrip(t *testing.T) {
	want := Event{Keys: []string{"ns:c:k"}, Tags: []string{"t"}}
	data, err := EncodeEvent(want)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := msgpack.Unmarshal(data, &got); err != nil || !slices.Equal(got.Keys, want.Keys) || !slices.Equal(got.Tags, want.Tags) {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, want)
	}
}
