package app_test

import (
	"context"
	"testing"
)

// TestRevokedAdmin: the admin routes check the account in the database, not
// only the token: an admin demoted since the token was issued gets 403, one
// deleted since gets 401, while the token itself is still valid. The cached
// admin page is not served to them either, nor may they bypass the cache.
func TestRevokedAdmin(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		d := e.app.DB
		e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "second-admin@example.com", "password": "correct-horse"}), 201)
		if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`UPDATE users SET role = 'admin' WHERE email = ?`), "second-admin@example.com"); err != nil {
			t.Fatal(err)
		}
		token := e.login("second-admin@example.com", "correct-horse")
		e.must(e.do("GET", "/admin/users", token, nil), 200)
		e.get("/admin/users", token, "HIT")
		e.get("/products?nocache=true", token, "BYPASS")

		if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`UPDATE users SET role = 'user' WHERE email = ?`), "second-admin@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/admin/users", "/admin/cache/stats"} {
			e.must(e.do("GET", path, token, nil), 403)
		}
		e.must(e.do("DELETE", "/products/B000000001", token, nil), 403)
		e.must(e.do("GET", "/auth/me", token, nil), 200)
		e.get("/products?nocache=true", token, "MISS") // no longer allowed to bypass

		if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`DELETE FROM users WHERE email = ?`), "second-admin@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/admin/users", "/auth/me"} {
			r := e.must(e.do("GET", path, token, nil), 401)
			var eb struct{ Error string }
			r.json(t, &eb)
			if eb.Error != "invalid_token" {
				t.Errorf("GET %s by a deleted account: %s", path, r.body)
			}
		}
		e.must(e.do("GET", "/admin/users", e.admin, nil), 200) // the other admin is unaffected
	})
}

// TestLookAlikeEmails: spellings of an address that look the same are one
// account (NFKC: fullwidth letters) or refused (invisible characters).
func TestLookAlikeEmails(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	e.must(e.do("POST", "/auth/register", "", map[string]string{"email": "alice@example.com", "password": "correct-horse"}), 201)
	tests := []struct {
		email  string
		status int
		code   string
	}{
		{"ａｌｉｃｅ@example.com", 409, "email_taken"},
		{"ALICE@EXAMPLE.COM", 409, "email_taken"},
		{"ali\u00adce@example.com", 400, "invalid_field"},
		{"alice\u202e@example.com", 400, "invalid_field"},
		{"\u200balice@example.com", 400, "invalid_field"},
	}
	for _, tt := range tests {
		r := e.do("POST", "/auth/register", "", map[string]string{"email": tt.email, "password": "correct-horse"})
		var eb struct{ Error string }
		r.json(t, &eb)
		if r.StatusCode != tt.status || eb.Error != tt.code {
			t.Errorf("register %q: status %d %s, want %d %s", tt.email, r.StatusCode, r.body, tt.status, tt.code)
		}
	}
	if n := e.count("users"); n != 2 {
		t.Errorf("%d accounts, want the admin and alice", n)
	}
	e.login("ａｌｉｃｅ@example.com", "correct-horse") // the same account
}

// TestDuplicateJSONKeys: a body whose keys repeat, or differ from the field
// names in case, is refused (encoding/json would let the last one win).
func TestDuplicateJSONKeys(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	tests := []struct{ name, path, body, code string }{
		{"duplicate email", "/auth/register", `{"email":"a@example.com","password":"correct-horse","email":"b@example.com"}`, "duplicate_field"},
		{"email in capitals", "/auth/register", `{"email":"a@example.com","password":"correct-horse","EMAIL":"b@example.com"}`, "unknown_field"},
		{"Password", "/auth/register", `{"email":"a@example.com","Password":"correct-horse"}`, "unknown_field"},
		{"login duplicate", "/auth/login", `{"email":"admin@example.com","password":"wrong","password":"admin-password-1"}`, "duplicate_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", tt.path, "", tt.body)
			var eb struct{ Error, Field string }
			r.json(t, &eb)
			if r.StatusCode != 400 || eb.Error != tt.code || eb.Field == "" {
				t.Fatalf("status %d %s, want 400 %s with the field", r.StatusCode, r.body, tt.code)
			}
		})
	}
	if n := e.count("users"); n != 1 {
		t.Errorf("%d accounts after refused registrations, want the admin only", n)
	}
	r := e.do("POST", "/products", e.admin, `{"asin":"B0DUPKEY01","title":"x","category_id":1,"title":"y"}`)
	if r.StatusCode != 400 {
		t.Errorf("product with a duplicate key: status %d %s", r.StatusCode, r.body)
	}
}
