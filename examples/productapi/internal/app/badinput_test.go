package app_test

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestBadInput sends malformed, oversized, mistyped and hostile input to
// every kind of route: each gets a clear 4xx with a JSON error body, and the
// database is left as it was.
func TestBadInput(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		user := e.userToken()
		products, accounts := e.count("products"), e.count("users")

		huge := `{"email":"big@example.com","password":"` + strings.Repeat("x", 2<<20) + `"}`
		hugeProduct := `{"asin":"B0BIG00001","title":"` + strings.Repeat("x", 2<<20) + `","category_id":1}`
		validProduct := `{"asin":"B0BAD00001","title":"Bad","category_id":1`

		tests := []struct {
			name, method, path, token, body, contentType string
			status                                       int
			code                                         string
		}{
			// JSON bodies.
			{"malformed JSON", "POST", "/auth/register", "", `{"email":`, "", 400, "invalid_json"},
			{"not JSON", "POST", "/auth/register", "", `email=a@b.c`, "", 400, "invalid_json"},
			{"empty body", "POST", "/auth/register", "", ``, "", 400, "invalid_json"},
			{"array body", "POST", "/auth/register", "", `[1,2]`, "", 400, "invalid_json"},
			{"two objects", "POST", "/auth/register", "", `{"email":"two@example.com","password":"correct-horse"} {}`, "", 400, "invalid_json"},
			{"unknown field", "POST", "/auth/register", "", `{"email":"eve@example.com","password":"correct-horse","role":"admin"}`, "", 400, "unknown_field"},
			{"wrong type", "POST", "/auth/register", "", `{"email":5,"password":"correct-horse"}`, "", 400, "wrong_type"},
			{"oversized", "POST", "/auth/register", "", huge, "", 413, "body_too_large"},
			{"not application/json", "POST", "/auth/register", "", `{"email":"x@example.com","password":"correct-horse"}`, "text/plain", 415, "unsupported_media_type"},
			{"bad email", "POST", "/auth/register", "", `{"email":"not-an-email","password":"correct-horse"}`, "", 400, "invalid_field"},
			{"email with SQL", "POST", "/auth/register", "", `{"email":"x'; DROP TABLE users;--@example.com","password":"correct-horse"}`, "", 400, "invalid_field"},
			{"short password", "POST", "/auth/register", "", `{"email":"short@example.com","password":"abc"}`, "", 400, "invalid_field"},
			{"login malformed", "POST", "/auth/login", "", `{"email":"a"`, "", 400, "invalid_json"},
			{"login unknown field", "POST", "/auth/login", "", `{"email":"a@b.c","password":"x","otp":1}`, "", 400, "unknown_field"},
			{"product malformed", "POST", "/products", "Bearer " + e.admin, validProduct, "", 400, "invalid_json"},
			{"product wrong type", "POST", "/products", "Bearer " + e.admin, validProduct + `,"price":"cheap"}`, "", 400, "wrong_type"},
			{"product bool as string", "POST", "/products", "Bearer " + e.admin, validProduct + `,"is_best_seller":"yes"}`, "", 400, "wrong_type"},
			{"product float reviews", "POST", "/products", "Bearer " + e.admin, validProduct + `,"reviews":1.5}`, "", 400, "wrong_type"},
			{"product unknown field", "POST", "/products", "Bearer " + e.admin, validProduct + `,"colour":"red"}`, "", 400, "unknown_field"},
			{"product server field", "POST", "/products", "Bearer " + e.admin, validProduct + `,"created_at":"2020-01-01T00:00:00Z"}`, "", 400, "unknown_field"},
			{"product stars out of range", "POST", "/products", "Bearer " + e.admin, validProduct + `,"stars":7}`, "", 400, "invalid_field"},
			{"product negative price", "POST", "/products", "Bearer " + e.admin, validProduct + `,"price":-1}`, "", 400, "invalid_field"},
			{"product no title", "POST", "/products", "Bearer " + e.admin, `{"asin":"B0BAD00001","category_id":1}`, "", 400, "invalid_field"},
			{"product bad URL", "POST", "/products", "Bearer " + e.admin, validProduct + `,"img_url":"javascript:alert(1)"}`, "", 400, "invalid_field"},
			{"product SQL in ASIN", "POST", "/products", "Bearer " + e.admin, `{"asin":"B0'; DROP TABLE products;--","title":"x","category_id":1}`, "", 400, "invalid_field"},
			{"product oversized", "POST", "/products", "Bearer " + e.admin, hugeProduct, "", 413, "body_too_large"},
			{"update malformed", "PUT", "/products/B000000001", "Bearer " + e.admin, `{"title":`, "", 400, "invalid_json"},
			{"update wrong type", "PUT", "/products/B000000001", "Bearer " + e.admin, `{"title":"x","category_id":"one"}`, "", 400, "wrong_type"},
			{"update SQL in path", "PUT", "/products/" + url.PathEscape("B0' OR '1'='1"), "Bearer " + e.admin, `{"title":"x","category_id":1}`, "", 400, "invalid_field"},
			{"delete SQL in path", "DELETE", "/products/" + url.PathEscape("1;DROP TABLE products"), "Bearer " + e.admin, ``, "", 400, "invalid_field"},
			{"get SQL in path", "GET", "/products/" + url.PathEscape("' OR 1=1--"), "", ``, "", 400, "invalid_field"},

			// Paging and filters.
			{"page zero", "GET", "/products?page=0", "", "", "", 400, "invalid_field"},
			{"page negative", "GET", "/products?page=-1", "", "", "", 400, "invalid_field"},
			{"page text", "GET", "/products?page=abc", "", "", "", 400, "invalid_field"},
			{"page fraction", "GET", "/products?page=1.5", "", "", "", 400, "invalid_field"},
			{"page absurd", "GET", "/products?page=99999999999999999999", "", "", "", 400, "invalid_field"},
			{"limit zero", "GET", "/products?limit=0", "", "", "", 400, "invalid_field"},
			{"limit negative", "GET", "/products?limit=-5", "", "", "", 400, "invalid_field"},
			{"limit text", "GET", "/products?limit=ten", "", "", "", 400, "invalid_field"},
			{"category text", "GET", "/products?category_id=books", "", "", "", 400, "invalid_field"},
			{"price NaN", "GET", "/products?min_price=NaN", "", "", "", 400, "invalid_field"},
			{"price Inf", "GET", "/products?max_price=Inf", "", "", "", 400, "invalid_field"},
			{"min above max", "GET", "/products?min_price=10&max_price=5", "", "", "", 400, "invalid_field"},
			{"best_seller maybe", "GET", "/products?best_seller=maybe", "", "", "", 400, "invalid_field"},
			{"unknown sort", "GET", "/products?sort=title", "", "", "", 400, "invalid_field"},
			{"unknown parameter", "GET", "/products?colour=red", "", "", "", 400, "invalid_field"},
			{"repeated parameter", "GET", "/products?page=1&page=2", "", "", "", 400, "invalid_field"},
			{"search too long", "GET", "/products?q=" + strings.Repeat("a", 201), "", "", "", 400, "invalid_field"},

			// Tokens.
			{"no token", "GET", "/auth/me", "", "", "", 401, "unauthorized"},
			{"not a bearer token", "GET", "/auth/me", "Basic YWRtaW46YWRtaW4=", "", "", 401, "unauthorized"},
			{"garbage token", "GET", "/auth/me", "Bearer not.a.jwt", "", "", 401, "invalid_token"},
			{"alg none", "GET", "/admin/users", "Bearer " + forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, time.Hour), "", "", 401, "invalid_token"},
			{"wrong signature", "GET", "/admin/users", "Bearer " + forge(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 40)), time.Hour), "", "", 401, "invalid_token"},
			{"other HMAC algorithm", "GET", "/admin/users", "Bearer " + forge(t, jwt.SigningMethodHS512, []byte(testSecret), time.Hour), "", "", 401, "invalid_token"},
			{"expired", "GET", "/admin/users", "Bearer " + forge(t, jwt.SigningMethodHS256, []byte(testSecret), -time.Hour), "", "", 401, "invalid_token"},
			{"tampered", "GET", "/admin/users", "Bearer " + tamper(user), "", "", 401, "invalid_token"},
			{"user on admin route", "GET", "/admin/users", "Bearer " + user, "", "", 403, "forbidden"},

			// Cache administration.
			{"key without cache", "DELETE", "/admin/cache/keys/nocolon", "Bearer " + e.admin, "", "", 400, "invalid_field"},
			{"key with control byte", "DELETE", "/admin/cache/keys/product:%01x", "Bearer " + e.admin, "", "", 400, "invalid_field"},
			{"key with invalid UTF-8", "DELETE", "/admin/cache/keys/product:%ff", "Bearer " + e.admin, "", "", 400, "invalid_field"},
			{"key too long", "DELETE", "/admin/cache/keys/product:" + strings.Repeat("k", 5000), "Bearer " + e.admin, "", "", 400, "invalid_field"},
			{"tag with NUL", "DELETE", "/admin/cache/tags/a%00b", "Bearer " + e.admin, "", "", 400, "invalid_field"},
		}
		// SQL metacharacters in every query parameter: refused, or (for the
		// free-text search) matched literally.
		for _, param := range []string{"category_id", "q", "min_price", "max_price", "best_seller", "sort", "page", "limit"} {
			for _, v := range []string{`1' OR '1'='1`, `1; DROP TABLE products;--`, `" OR ""="`, `%' --`, "1\x00"} {
				status, code := 400, "invalid_field"
				if param == "q" && !strings.Contains(v, "\x00") {
					status, code = 200, ""
				}
				tests = append(tests, struct {
					name, method, path, token, body, contentType string
					status                                       int
					code                                         string
				}{"SQL in " + param + " " + v, "GET", "/products?" + param + "=" + url.QueryEscape(v), "", "", "", status, code})
			}
		}

		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var headers []string
				if tt.token != "" {
					headers = append(headers, "Authorization", tt.token)
				}
				var body any
				if tt.method == "POST" || tt.method == "PUT" {
					body = tt.body
				}
				if tt.contentType != "" {
					headers = append(headers, "Content-Type", tt.contentType)
				}
				r := e.do(tt.method, tt.path, "", body, headers...)
				if r.StatusCode != tt.status {
					t.Fatalf("status %d, want %d; body %.300s", r.StatusCode, tt.status, r.body)
				}
				if tt.code == "" {
					var p page
					r.json(t, &p)
					if len(p.Products) != 0 {
						t.Fatalf("hostile search matched %s", asins(p))
					}
					return
				}
				var eb struct {
					Error, Message, RequestID string
				}
				r.json(t, &eb)
				if eb.Error != tt.code || eb.Message == "" {
					t.Fatalf("error body %s, want code %q and a message", r.body, tt.code)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type %q", ct)
				}
			})
		}
		if got := e.count("products"); got != products {
			t.Errorf("products: %d rows after bad input, want %d", got, products)
		}
		if got := e.count("users"); got != accounts {
			t.Errorf("users: %d rows after bad input, want %d", got, accounts)
		}
	})
}

// count returns the number of rows of table (a fixed name from the test).
func (e *env) count(table string) int64 {
	e.t.Helper()
	var n int64
	if err := e.app.DB.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// forge signs admin claims for user 1 with method and key, expiring in ttl.
func forge(t *testing.T, method jwt.SigningMethod, key any, ttl time.Duration) string {
	now := time.Now()
	s, err := jwt.NewWithClaims(method, jwt.MapClaims{
		"iss": "productapi", "sub": "1", "role": "admin", "email": adminEmail,
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(ttl).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper turns a user token's role into admin, keeping its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1)))
	return strings.Join(parts, ".")
}
