package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

// get reads path and checks the X-Cache header the response cache set.
func (e *env) get(path, token, wantCache string) *response {
	e.t.Helper()
	r := e.must(e.do("GET", path, token, nil), 200)
	if got := r.Header.Get("X-Cache"); got != wantCache {
		e.t.Fatalf("GET %s: X-Cache %q, want %q", path, got, wantCache)
	}
	return r
}

func (e *env) product(path, wantCache string) catalog.Product {
	e.t.Helper()
	token := ""
	if wantCache == "BYPASS" {
		token = e.admin
	}
	var p catalog.Product
	e.get(path, token, wantCache).json(e.t, &p)
	return p
}

func (e *env) list(path, wantCache string) page {
	e.t.Helper()
	var p page
	e.get(path, "", wantCache).json(e.t, &p)
	return p
}

func TestCacheHitAfterMiss(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/categories", "/products", "/products?category_id=1&sort=-price", "/products/B000000001"} {
			first := e.get(path, "", "MISS")
			second := e.get(path, "", "HIT")
			if !bytes.Equal(first.body, second.body) {
				t.Errorf("GET %s: HIT body differs from MISS body", path)
			}
			if second.Header.Get("ETag") == "" || second.Header.Get("Age") == "" {
				t.Errorf("GET %s: HIT without ETag or Age", path)
			}
			bypass := path + map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + "nocache=true"
			e.get(bypass, e.admin, "BYPASS")
			e.get(bypass, "", "HIT") // only admins may bypass (CACHE_BYPASS=admin)
		}
		e.get("/admin/users", e.admin, "MISS")
		e.get("/admin/users", e.admin, "HIT")
		// Catalogue pages are public: a signed-in client shares them.
		e.get("/categories", e.userToken(), "HIT")

		// An ETag revalidates to 304.
		r := e.get("/categories", "", "HIT")
		nm := e.do("GET", "/categories", "", nil, "If-None-Match", r.Header.Get("ETag"))
		if nm.StatusCode != 304 {
			t.Errorf("If-None-Match: status %d, want 304", nm.StatusCode)
		}
	})
}

func TestWritesInvalidate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		// Warm every read the writes below affect.
		warm := func(e *env) {
			for _, path := range []string{"/categories", "/products", "/products?category_id=1", "/products?category_id=2", "/products/B000000001", "/products/B000000004"} {
				e.do("GET", path, "", nil)
				e.get(path, "", "HIT")
			}
		}

		t.Run("create", func(t *testing.T) {
			e := e.with(t)
			warm(e)
			e.must(e.do("GET", "/products/B0CREATED1", "", nil), 404) // the product cache remembers "not found" briefly
			e.must(e.do("POST", "/products", e.admin, map[string]any{"asin": "B0CREATED1", "title": "Crimp Beads", "price": 1.25, "category_id": 1}), 201)
			if p := e.list("/products?category_id=1", "MISS"); !strings.Contains(asins(p), "B0CREATED1") || p.Total != 3 {
				t.Fatalf("category list after create: [%s] total %d", asins(p), p.Total)
			}
			if p := e.product("/products/B0CREATED1", "MISS"); p.Title != "Crimp Beads" {
				t.Fatalf("product after create: %+v", p)
			}
			if p := e.list("/products", "MISS"); p.Total != 7 {
				t.Fatalf("product list after create: total %d, want 7", p.Total)
			}
			e.get("/categories", "", "HIT")
		})

		t.Run("update", func(t *testing.T) {
			e := e.with(t)
			warm(e)
			e.must(e.do("PUT", "/products/B000000001", e.admin, map[string]any{"title": "Sterling Silver Beads 200 Pack", "price": 22.5, "category_id": 1}), 200)
			if p := e.product("/products/B000000001", "MISS"); p.Price != 22.5 || p.Title != "Sterling Silver Beads 200 Pack" {
				t.Fatalf("product after update: %+v", p)
			}
			if p := e.list("/products?category_id=1", "MISS"); p.Products[0].ASIN != "B000000001" || p.Products[0].Price != 22.5 {
				t.Fatalf("category list after update: %+v", p.Products[0])
			}
			e.product("/products/B000000004", "HIT") // another product stays cached
		})

		t.Run("update moves category", func(t *testing.T) {
			e := e.with(t)
			warm(e)
			e.must(e.do("PUT", "/products/B000000001", e.admin, map[string]any{"title": "Sterling Silver Beads 200 Pack", "price": 22.5, "category_id": 2}), 200)
			if p := e.list("/products?category_id=1", "MISS"); strings.Contains(asins(p), "B000000001") {
				t.Fatalf("old category still lists the product: [%s]", asins(p))
			}
			if p := e.list("/products?category_id=2", "MISS"); !strings.Contains(asins(p), "B000000001") {
				t.Fatalf("new category does not list the product: [%s]", asins(p))
			}
		})

		t.Run("delete", func(t *testing.T) {
			e := e.with(t)
			warm(e)
			e.must(e.do("DELETE", "/products/B000000003", e.admin, nil), 204)
			e.must(e.do("GET", "/products/B000000003", "", nil), 404)
			if p := e.list("/products?category_id=2", "MISS"); strings.Contains(asins(p), "B000000003") {
				t.Fatalf("list after delete: [%s]", asins(p))
			}
		})

		t.Run("import categories", func(t *testing.T) {
			e := e.with(t)
			warm(e)
			csv := "id,category_name\n1,Beads & Jewellery\n4,Printmaking Supplies\n"
			var sum map[string]any
			e.must(e.do("POST", "/admin/import/categories", e.admin, csv, "Content-Type", "text/csv"), 200).json(t, &sum)
			if sum["inserted"] != 1.0 || sum["updated"] != 1.0 {
				t.Fatalf("summary %v", sum)
			}
			var cats struct{ Categories []catalog.Category }
			e.get("/categories", "", "MISS").json(t, &cats)
			if len(cats.Categories) != 4 || cats.Categories[0].Name != "Beads & Jewellery" {
				t.Fatalf("categories after import: %+v", cats.Categories)
			}
		})

		t.Run("import products", func(t *testing.T) {
			e := e.with(t)
			warm(e)
			csv := "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n" +
				"B000000005,Merino Wool Yarn,https://m.media-amazon.com/images/I/a.jpg,https://www.amazon.com/dp/B000000005,4.9,15001,7.5,0.0,3,True,200\n" +
				"B0IMPORT01,\"Glass Beads, Mixed\",https://m.media-amazon.com/images/I/b.jpg,https://www.amazon.com/dp/B0IMPORT01,4.0,3,2.0,0.0,1,False,0\n" +
				"bad row\n"
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("file", "amazon_products.csv")
			fw.Write([]byte(csv))
			mw.Close()
			var sum struct {
				Inserted, Updated, Failed int64
				Errors                    []map[string]any
			}
			e.must(e.do("POST", "/admin/import/products", e.admin, body.Bytes(), "Content-Type", mw.FormDataContentType()), 200).json(t, &sum)
			if sum.Inserted != 1 || sum.Updated != 1 || sum.Failed != 1 || len(sum.Errors) == 0 {
				t.Fatalf("summary %+v", sum)
			}
			if p := e.list("/products?category_id=1", "MISS"); !strings.Contains(asins(p), "B0IMPORT01") {
				t.Fatalf("category list after import: [%s]", asins(p))
			}
			if p := e.list("/products", "MISS"); !strings.Contains(asins(p), "B0IMPORT01") {
				t.Fatalf("product list after import: [%s]", asins(p))
			}
			if p := e.product("/products/B000000005", "MISS"); p.Price != 7.5 || !p.IsBestSeller {
				t.Fatalf("product after import: %+v", p)
			}
		})

		t.Run("register", func(t *testing.T) {
			e := e.with(t)
			e.do("GET", "/admin/users", e.admin, nil)
			e.get("/admin/users", e.admin, "HIT")
			e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "new@example.com", "password": "correct-horse"}), 201)
			var list struct{ Users []users.User }
			e.get("/admin/users", e.admin, "MISS").json(t, &list)
			if last := list.Users[len(list.Users)-1]; last.Email != "new@example.com" {
				t.Fatalf("user list after register ends with %+v", last)
			}
		})
	})
}

func TestAdminCacheRoutes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := e.app.DB
		setTitle := func(title string) {
			if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`UPDATE products SET title = ? WHERE asin = ?`), title, "B000000002"); err != nil {
				t.Fatal(err)
			}
		}

		// Keys: the product cache, read past the response cache.
		const bypass = "/products/B000000002?nocache=true"
		e.product(bypass, "BYPASS")
		setTitle("Changed behind the cache's back")
		if p := e.product(bypass, "BYPASS"); p.Title != "Elastic Beading Cord, Clear" {
			t.Fatalf("product cache did not serve the cached title: %q", p.Title)
		}
		e.must(e.do("DELETE", "/admin/cache/keys/product:B000000002", e.admin, nil), 200)
		if p := e.product(bypass, "BYPASS"); p.Title != "Changed behind the cache's back" {
			t.Fatalf("after deleting the key: %q", p.Title)
		}

		// Tags: both layers at once.
		e.product("/products/B000000002", "MISS")
		e.product("/products/B000000002", "HIT")
		setTitle("Changed again")
		e.must(e.do("DELETE", "/admin/cache/tags/product:B000000002", e.admin, nil), 200)
		if p := e.product("/products/B000000002", "MISS"); p.Title != "Changed again" {
			t.Fatalf("after invalidating the tag: %q", p.Title)
		}
		// A category tag reaches the product pages of that category.
		e.product("/products/B000000002", "HIT")
		e.must(e.do("DELETE", "/admin/cache/tags/category:1", e.admin, nil), 200)
		e.product("/products/B000000002", "MISS")
	})
}

// stats is the body of GET /admin/cache/stats, as the tests read it.
type stats struct {
	Hits             uint64                `json:"hits"`
	Misses           uint64                `json:"misses"`
	HitRatio         float64               `json:"hit_ratio"`
	KeyCount         int64                 `json:"key_count"`
	KeyCountComplete bool                  `json:"key_count_complete"`
	TopKeys          []cachefront.KeyCount `json:"top_keys"`
}

func (e *env) stats() stats {
	e.t.Helper()
	var st stats
	e.must(e.do("GET", "/admin/cache/stats", e.admin, nil), 200).json(e.t, &st)
	return st
}

// TestAdminCacheStats: the stats route reports the library's counts, its
// top key is the URL read most, and that key, as listed, deletes the URL's
// entry through the admin route. Each case runs on a new service, so the
// counts are its own.
func TestAdminCacheStats(t *testing.T) {
	// Read once by every case, so that a deletion can be seen to be exact
	// and the top keys to span caches.
	const neighbour = "/products/B000000002"
	tests := []struct {
		name    string
		path    string // read reads times
		reads   int
		cache   string // the cache of path's entry
		entries int64  // entries the first read makes, one miss each
	}{
		{"categories", "/categories", 2, "categories", 1},
		{"product list", "/products?sort=-price&category_id=1", 3, "product-lists", 1},
		{"search with characters to escape", "/products?q=" + url.QueryEscape("Beads & Cord/50% é+ ?#"), 3, "product-lists", 1},
		// Every parameter at its longest: a key of over a kilobyte, which
		// the library hashes in Redis (past 256 bytes) while the stats
		// route lists it as read, and the admin route deletes it so.
		{"longest search", "/products?q=" + url.QueryEscape(strings.Repeat("é", catalog.MaxQueryLen/2)) + "&category_id=9223372036854775807&min_price=0.000001&max_price=999999999.99&best_seller=false&sort=-reviews&page=10000&limit=17",
			2, "product-lists", 1},
		// The response cache and, under it, the product cache.
		{"product page", "/products/B000000001", 5, "product-pages", 2},
	}
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					e := newEnv(t, dialect, nil)
					e.get(neighbour, "", "MISS")
					e.get(tt.path, "", "MISS")
					for range tt.reads - 1 {
						e.get(tt.path, "", "HIT")
					}

					st := e.stats()
					// The neighbour made a product page and a product entry.
					if want := tt.entries + 2; st.KeyCount != want || !st.KeyCountComplete {
						t.Errorf("key_count %d (complete %v), want %d complete", st.KeyCount, st.KeyCountComplete, want)
					}
					if hits, misses := uint64(tt.reads-1), uint64(tt.entries+2); st.Hits != hits || st.Misses != misses {
						t.Errorf("hits %d, misses %d; want %d, %d", st.Hits, st.Misses, hits, misses)
					}
					if want := float64(st.Hits) / float64(st.Hits+st.Misses); st.HitRatio != want {
						t.Errorf("hit_ratio %v, want %v", st.HitRatio, want)
					}
					if len(st.TopKeys) == 0 {
						t.Fatal("no top keys")
					}
					top := st.TopKeys[0]
					if !strings.HasPrefix(top.Key, tt.cache+":") || top.Count != uint64(tt.reads) || top.Error != 0 {
						t.Fatalf("top key %+v, want one of cache %s read %d times, exactly; all: %+v", top, tt.cache, tt.reads, st.TopKeys)
					}
					caches := map[string]bool{}
					for i, k := range st.TopKeys {
						name, _, _ := strings.Cut(k.Key, ":")
						caches[name] = true
						if i > 0 && k.Count > st.TopKeys[i-1].Count {
							t.Errorf("top keys not most read first: %+v", st.TopKeys)
						}
					}
					for _, name := range []string{tt.cache, "product-pages", catalog.ProductCacheName} {
						if !caches[name] {
							t.Errorf("top keys lack cache %s: %+v", name, st.TopKeys)
						}
					}

					var deleted struct{ Deleted string }
					e.must(e.do("DELETE", "/admin/cache/keys/"+url.PathEscape(top.Key), e.admin, nil), 200).json(t, &deleted)
					if deleted.Deleted != top.Key {
						t.Errorf("deleted %q, want %q", deleted.Deleted, top.Key)
					}
					e.get(tt.path, "", "MISS")
					e.get(tt.path, "", "HIT")
					e.get(neighbour, "", "HIT")
				})
			}
		})
	}

	// A count Redis cannot answer is reported as incomplete, not as an
	// error of the route.
	t.Run("Redis down", func(t *testing.T) {
		mr := miniredis.RunT(t)
		e := startEnv(t, "sqlite", envOptions{extra: map[string]string{"REDIS_URL": "redis://" + mr.Addr(), "REDIS_ADDRS": ""}})
		e.get(neighbour, "", "MISS")
		mr.Close()
		if st := e.stats(); st.KeyCountComplete || st.Misses != 2 {
			t.Fatalf("stats with Redis down: %+v", st)
		}
	})
}

func TestCacheBypassSetting(t *testing.T) {
	tests := []struct {
		setting, token string
		want           [2]string // X-Cache of two requests with ?nocache=true
	}{
		{"anyone", "", [2]string{"BYPASS", "BYPASS"}},
		{"admin", "user", [2]string{"MISS", "HIT"}},
		{"admin", "admin", [2]string{"BYPASS", "BYPASS"}},
		{"off", "admin", [2]string{"MISS", "HIT"}}, // an ordinary parameter then
	}
	for _, tt := range tests {
		t.Run(tt.setting+"/"+tt.token, func(t *testing.T) {
			e := newEnv(t, "sqlite", map[string]string{"CACHE_BYPASS": tt.setting})
			token := map[string]string{"": "", "user": e.userToken(), "admin": e.admin}[tt.token]
			for _, want := range tt.want {
				e.get("/products?nocache=true", token, want)
			}
		})
	}
}
