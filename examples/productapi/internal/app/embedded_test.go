package app_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedRedisExpires runs the default setup, the embedded development
// Redis, and changes a category directly in the database, behind the
// cache's back: the cached response keeps the old name at first, its entry
// leaves Redis once CACHE_TTL has passed (miniredis keeps keys forever
// unless its clock moves), and the next read shows the new name.
func TestEmbeddedRedisExpires(t *testing.T) {
	const ttl = time.Second
	e := startEnv(t, "sqlite", envOptions{embeddedRedis: true, extra: map[string]string{"CACHE_TTL": ttl.String()}})
	if !e.app.Config.EmbeddedRedis() {
		t.Fatal("the test app does not use the embedded Redis")
	}
	if n := e.keyCount(); n != 0 {
		t.Fatalf("%d cache entries before the first read", n)
	}
	e.get("/categories", "", "MISS")
	stored := time.Now()
	if n := e.keyCount(); n != 1 {
		t.Fatalf("%d cache entries after one read, want 1", n)
	}
	d := e.app.DB
	if _, err := d.ExecContext(context.Background(), d.Dialect.Rebind(`UPDATE categories SET name = ? WHERE id = 1`), "Renamed Behind The Cache"); err != nil {
		t.Fatal(err)
	}
	if r := e.get("/categories", "", "HIT"); strings.Contains(string(r.body), "Renamed Behind The Cache") {
		t.Fatal("the cached response already shows the change")
	}

	deadline := stored.Add(10 * ttl)
	for e.keyCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the entry is still in the embedded Redis %v after it was stored with a TTL of %v", time.Since(stored).Round(time.Millisecond), ttl)
		}
		<-time.After(20 * time.Millisecond) // poll
	}
	gone := time.Since(stored)
	if gone < ttl/2 {
		t.Fatalf("the entry left after %v, before its TTL of %v", gone, ttl)
	}
	t.Logf("the entry left Redis %v after it was stored (CACHE_TTL %v)", gone.Round(time.Millisecond), ttl)
	if r := e.get("/categories", "", "MISS"); !strings.Contains(string(r.body), "Renamed Behind The Cache") {
		t.Fatalf("after the entry expired: %s", r.body)
	}
}
