package app_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

type page struct {
	Products []catalog.Product `json:"products"`
	Page     int               `json:"page"`
	Limit    int               `json:"limit"`
	Total    int64             `json:"total"`
}

func asins(p page) string {
	var s []string
	for _, x := range p.Products {
		s = append(s, x.ASIN)
	}
	return strings.Join(s, ",")
}

func TestAuth(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		reg := e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "Alice@Example.com", "password": "correct-horse"}), 201)
		var u users.User
		reg.json(t, &u)
		if u.Email != "alice@example.com" || u.Role != "user" || u.ID == 0 {
			t.Fatalf("registered %+v", u)
		}
		if strings.Contains(string(reg.body), "password") {
			t.Fatalf("register response leaks the password or its hash: %s", reg.body)
		}
		e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "alice@example.com", "password": "another-one"}), 409)

		token := e.login("alice@example.com", "correct-horse")
		var me users.User
		e.must(e.do("GET", "/auth/me", token, nil), 200).json(t, &me)
		if me.ID != u.ID || me.Email != u.Email {
			t.Fatalf("me = %+v, want %+v", me, u)
		}
		e.must(e.do("POST", "/auth/login", "", map[string]string{"email": "alice@example.com", "password": "wrong-password"}), 401)
		e.must(e.do("POST", "/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "correct-horse"}), 401)

		// Roles.
		e.must(e.do("GET", "/auth/me", "", nil), 401)
		e.must(e.do("GET", "/admin/users", "", nil), 401)
		e.must(e.do("GET", "/admin/users", token, nil), 403)
		e.must(e.do("POST", "/products", token, map[string]any{"asin": "B0000000ZZ", "title": "x", "category_id": 1}), 403)
		e.must(e.do("DELETE", "/products/B000000001", token, nil), 403)
		e.must(e.do("GET", "/admin/cache/stats", token, nil), 403)
		e.must(e.do("DELETE", "/admin/cache/tags/products", token, nil), 403)
		var list struct{ Users []users.User }
		e.must(e.do("GET", "/admin/users", e.admin, nil), 200).json(t, &list)
		if len(list.Users) != 2 || list.Users[0].Role != "admin" {
			t.Fatalf("users = %+v, want the admin and alice", list.Users)
		}
	})
}

func TestCatalogRoutes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		var cats struct{ Categories []catalog.Category }
		e.must(e.do("GET", "/categories", "", nil), 200).json(t, &cats)
		if len(cats.Categories) != 3 || cats.Categories[0].Name != "Beading & Jewelry Making" {
			t.Fatalf("categories = %+v", cats)
		}

		tests := []struct {
			query string
			want  string
			total int64
		}{
			{"", "B000000001,B000000002,B000000003,B000000004,B000000005,B000000006", 6},
			{"category_id=1", "B000000001,B000000002", 2},
			{"category_id=1&sort=price", "B000000002,B000000001", 2},
			{"sort=-price&limit=2", "B000000004,B000000003", 6},
			{"sort=-price&limit=2&page=2", "B000000006,B000000001", 6},
			{"sort=-price&limit=2&page=4", "", 6},
			{"sort=stars", "B000000004,B000000006,B000000002,B000000001,B000000003,B000000005", 6},
			{"sort=-reviews&limit=1", "B000000005", 6},
			{"min_price=10&max_price=20&sort=price", "B000000001,B000000006,B000000003", 3},
			{"best_seller=true", "B000000001,B000000003", 2},
			{"best_seller=false&category_id=3", "B000000005,B000000006", 2},
			{"q=BEADS", "B000000001", 1},
			{"q=" + url.QueryEscape("50%"), "B000000005", 1},                                       // % is a literal, not a wildcard
			{"q=" + url.QueryEscape("s_s"), "B000000006", 1},                                       // so is _
			{"q=" + url.QueryEscape("' OR 1=1 --"), "", 0},                                         // metacharacters are data
			{"limit=1000", "B000000001,B000000002,B000000003,B000000004,B000000005,B000000006", 6}, // capped, not refused
		}
		for _, tt := range tests {
			var p page
			e.must(e.do("GET", "/products?"+tt.query, "", nil), 200).json(t, &p)
			if got := asins(p); got != tt.want || p.Total != tt.total {
				t.Errorf("GET /products?%s = [%s] total %d, want [%s] total %d", tt.query, got, p.Total, tt.want, tt.total)
			}
			if strings.Contains(tt.query, "limit=1000") && p.Limit != catalog.MaxLimit {
				t.Errorf("limit=1000 answered limit %d, want the cap %d", p.Limit, catalog.MaxLimit)
			}
		}

		var p catalog.Product
		e.must(e.do("GET", "/products/B000000003", "", nil), 200).json(t, &p)
		if p.Title != "Fabric Paint Set, 24 Colours" || p.CategoryID != 2 || !p.IsBestSeller || p.Price != 19.99 || p.CreatedAt.IsZero() {
			t.Fatalf("product = %+v", p)
		}
		raw := e.do("GET", "/products/B000000003", "", nil)
		var fields map[string]any
		raw.json(t, &fields)
		for _, f := range []string{"asin", "title", "img_url", "product_url", "stars", "reviews", "price", "list_price", "category_id", "is_best_seller", "bought_in_last_month", "created_at", "updated_at"} {
			if _, ok := fields[f]; !ok {
				t.Errorf("product JSON lacks %q: %s", f, raw.body)
			}
		}
		e.must(e.do("GET", "/products/B0NOTHERE0", "", nil), 404)
	})
}

func TestProductWrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		newProduct := map[string]any{
			"asin": "B0NEW00001", "title": "Glass Seed Beads", "img_url": "https://m.media-amazon.com/images/I/x.jpg",
			"product_url": "https://www.amazon.com/dp/B0NEW00001", "stars": 4.4, "reviews": 10, "price": 3.5,
			"list_price": 4.0, "category_id": 1, "is_best_seller": false, "bought_in_last_month": 50,
		}
		created := e.must(e.do("POST", "/products", e.admin, newProduct), 201)
		if loc := created.Header.Get("Location"); loc != "/products/B0NEW00001" {
			t.Errorf("Location = %q", loc)
		}
		e.must(e.do("POST", "/products", e.admin, newProduct), 409)
		newProduct["asin"], newProduct["category_id"] = "B0NEW00002", 999
		e.must(e.do("POST", "/products", e.admin, newProduct), 422)

		update := map[string]any{"title": "Glass Seed Beads, 2mm", "price": 2.99, "category_id": 2}
		var p catalog.Product
		e.must(e.do("PUT", "/products/B0NEW00001", e.admin, update), 200).json(t, &p)
		if p.Title != "Glass Seed Beads, 2mm" || p.Price != 2.99 || p.CategoryID != 2 || !p.UpdatedAt.After(p.CreatedAt) && !p.UpdatedAt.Equal(p.CreatedAt) {
			t.Fatalf("updated = %+v", p)
		}
		e.must(e.do("PUT", "/products/B0NOTHERE0", e.admin, update), 404)
		update["asin"] = "B000000001"
		e.must(e.do("PUT", "/products/B0NEW00001", e.admin, update), 400)

		e.must(e.do("DELETE", "/products/B0NEW00001", e.admin, nil), 204)
		e.must(e.do("DELETE", "/products/B0NEW00001", e.admin, nil), 404)
		e.must(e.do("GET", "/products/B0NEW00001", "", nil), 404)
	})
}

func TestOperations(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	e.must(e.do("GET", "/healthz", "", nil), 200)
	e.must(e.do("GET", "/readyz", "", nil), 200)
	e.must(e.do("GET", "/products?limit=1", "", nil), 200)
	e.must(e.do("GET", "/products/B000000001", "", nil), 200)
	m := string(e.must(e.do("GET", "/metrics", "", nil), 200).body)
	for _, want := range []string{
		`productapi_http_requests_total{code="200",method="GET",route="GET /products"}`,
		`productapi_http_request_duration_seconds_bucket{method="GET",route="GET /products/{asin}"`,
		`cachefront_`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	resp := e.must(e.do("GET", "/products", "", nil, "X-Request-ID", "trace-123"), 200)
	if resp.Header.Get("X-Request-ID") != "trace-123" {
		t.Errorf("X-Request-ID not echoed: %q", resp.Header.Get("X-Request-ID"))
	}
	resp = e.do("GET", "/products", "", nil, "X-Request-ID", "bad id\twith tab")
	if id := resp.Header.Get("X-Request-ID"); id == "" || strings.Contains(id, " ") {
		t.Errorf("bad X-Request-ID not replaced: %q", id)
	}

	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	e.must(e.do("GET", "/openapi.json", "", nil), 200).json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	for _, route := range []string{
		"POST /auth/register", "POST /auth/login", "GET /auth/me", "GET /categories", "GET /products",
		"GET /products/{asin}", "POST /products", "PUT /products/{asin}", "DELETE /products/{asin}",
		"POST /admin/import/categories", "POST /admin/import/products", "GET /admin/users",
		"DELETE /admin/cache/keys/{key}", "DELETE /admin/cache/tags/{tag}", "GET /admin/cache/stats",
		"GET /metrics", "GET /healthz", "GET /readyz", "GET /openapi.json",
	} {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("openapi.json does not describe %s", route)
		}
	}

	nf := e.must(e.do("GET", "/nowhere", "", nil), 404)
	var body map[string]any
	if err := json.Unmarshal(nf.body, &body); err != nil || body["error"] != "not_found" {
		t.Errorf("404 body %s", nf.body)
	}
	na := e.must(e.do("PATCH", "/products/B000000001", e.admin, "{}"), 405)
	if err := json.Unmarshal(na.body, &body); err != nil || body["error"] != "method_not_allowed" || na.Header.Get("Allow") == "" {
		t.Errorf("405 body %s, Allow %q", na.body, na.Header.Get("Allow"))
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, "sqlite", map[string]string{"LOGIN_RATE_PER_MINUTE": "4"})
	// The admin's login in newEnv used one attempt of this client's four.
	bad := map[string]string{"email": "victim@example.com", "password": "guess-guess"}
	e.must(e.do("POST", "/auth/login", "", bad), 401)
	e.must(e.do("POST", "/auth/login", "", bad), 401)
	e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "late@example.com", "password": "correct-horse"}), 201)
	e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "later@example.com", "password": "correct-horse"}), 429)
	r := e.must(e.do("POST", "/auth/login", "", bad), 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	var body map[string]any
	r.json(t, &body)
	if body["error"] != "too_many_attempts" {
		t.Errorf("429 body %s", r.body)
	}
}
