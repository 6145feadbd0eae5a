package app_test

import (
	"testing"
)

// TestMalformedQuery sends, to every route, a query that url.ParseQuery
// cannot read (r.URL.Query() silently drops such pairs): each answers 400
// invalid_query with a JSON error, before its guard, its cache and its
// handler, and a cached route stores nothing for it.
func TestMalformedQuery(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	routes := []struct{ method, path string }{
		{"POST", "/auth/register"}, {"POST", "/auth/login"}, {"GET", "/auth/me"},
		{"GET", "/categories"}, {"GET", "/products"}, {"GET", "/products/B000000001"},
		{"POST", "/products"}, {"PUT", "/products/B000000001"}, {"DELETE", "/products/B000000001"},
		{"POST", "/admin/import/categories"}, {"POST", "/admin/import/products"}, {"GET", "/admin/users"},
		{"DELETE", "/admin/cache/keys/product:B000000001"}, {"DELETE", "/admin/cache/tags/products"},
		{"GET", "/admin/cache/stats"}, {"GET", "/metrics"}, {"GET", "/healthz"}, {"GET", "/readyz"},
		{"GET", "/openapi.json"},
	}
	queries := []string{"category_id=1;DROP", "a=1;b=2", "q=%zz", "page=%", "%gg=1"}
	for _, rt := range routes {
		for _, q := range queries {
			t.Run(rt.method+" "+rt.path+"?"+q, func(t *testing.T) {
				e := e.with(t)
				var body any
				if rt.method == "POST" || rt.method == "PUT" {
					body = "{}"
				}
				r := e.do(rt.method, rt.path+"?"+q, e.admin, body)
				if r.StatusCode != 400 {
					t.Fatalf("status %d, want 400: %s", r.StatusCode, r.body)
				}
				var eb struct{ Error, Message string }
				r.json(t, &eb)
				if eb.Error != "invalid_query" || eb.Message == "" {
					t.Fatalf("error body %s, want invalid_query", r.body)
				}
			})
		}
	}
	if n := e.keyCount(); n != 0 {
		t.Errorf("%d cache entries after malformed queries only, want 0", n)
	}
}

// TestEquivalentQueriesShareEntries: every spelling of one request is
// served from one cache entry, and junk parameters are refused rather than
// given entries of their own.
func TestEquivalentQueriesShareEntries(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		groups := [][]string{
			{"/products?limit=100", "/products?limit=101", "/products?limit=102", "/products?limit=400", "/products?limit=0100", "/products?limit=99999999999999999999"},
			{"/products?category_id=1", "/products?category_id=01", "/products?category_id=1&page=1&limit=20"},
			{"/products?best_seller=true", "/products?best_seller=1", "/products?best_seller=T", "/products?best_seller=TRUE"},
			{"/products?min_price=10", "/products?min_price=10.0", "/products?min_price=010"},
			{"/products?page=2&limit=2", "/products?limit=2&page=02"},
			{"/products?q=beads", "/products?q=+beads+", "/products?q=%20BEADS%20", "/products?q=Beads"},
			{"/products", "/products?page=1", "/products?limit=20", "/products?nocache=false"},
			{"/categories", "/categories?nocache=false"},
			{"/products/B000000001", "/products/B000000001?nocache=0"},
		}
		before := e.keyCount()
		for _, group := range groups {
			first := e.get(group[0], "", "MISS")
			for _, path := range group[1:] {
				if r := e.get(path, "", "HIT"); string(r.body) != string(first.body) {
					t.Errorf("GET %s: body differs from GET %s", path, group[0])
				}
			}
		}
		// One entry per group, and the product page's read of the product
		// cache one more.
		if got, want := e.keyCount()-before, int64(len(groups)+1); got != want {
			t.Errorf("%d new cache entries for %d distinct requests", got, want)
		}

		// Junk is refused, and makes no entry.
		before = e.keyCount()
		for _, path := range []string{
			"/products?junk=1", "/products?min_price=1_0", "/products?page=%2B2", "/products?nocache=maybe",
			"/categories?junk=1", "/categories?page=2", "/products/B000000001?x=1", "/products/B000000001?nocache=1&nocache=1",
		} {
			r := e.do("GET", path, "", nil)
			if r.StatusCode != 400 {
				t.Errorf("GET %s: status %d, want 400: %s", path, r.StatusCode, r.body)
			}
		}
		if got := e.keyCount() - before; got != 0 {
			t.Errorf("%d cache entries made by refused requests", got)
		}
	})
}

// keyCount returns the number of cache entries, as the stats route counts
// them.
func (e *env) keyCount() int64 {
	e.t.Helper()
	st := e.stats()
	if !st.KeyCountComplete {
		e.t.Fatalf("entry count cut short: %+v", st)
	}
	return st.KeyCount
}
