package seenversions

import "testing"

func TestSeenVersionsExpireAndForget(t *testing.T) {
	var sv Memo
	sv.Learn([]string{"a", "b"}, []string{"1:x", ""}, 10_000)
	if tags, ok := sv.Lookup([]string{"a"}, 10_500); !ok || tags[0].Version != "1:x" {
		t.Fatalf("lookup a = %v, %v", tags, ok)
	}
	if _, ok := sv.Lookup([]string{"a", "b"}, 10_500); ok {
		t.Fatal(`"b" had no version and must not be remembered as one`)
	}
	if _, ok := sv.Lookup([]string{"a"}, 10_000+For); ok {
		t.Fatal("a version is remembered past For")
	}
	sv.Learn([]string{"a"}, []string{"2:y"}, 20_000)
	sv.Forget([]string{"a"})
	if _, ok := sv.Lookup([]string{"a"}, 20_001); ok {
		t.Fatal("forget kept the version")
	}
	// Old generations are dropped: memory is bounded by recent tags.
	sv.Learn([]string{"old"}, []string{"3:z"}, 30_000)
	sv.Lookup(nil, 30_000+For)
	sv.Lookup(nil, 30_000+3*For)
	g := sv.gens.Load()
	if _, ok := g.cur.Load("old"); ok {
		t.Fatal("an old tag is still held")
	}
	if _, ok := g.prev.Load("old"); ok {
		t.Fatal("an old tag is still held in the previous generation")
	}
}
