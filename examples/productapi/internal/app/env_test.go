package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/cachefront/cachefront/examples/productapi/internal/app"
	"github.com/cachefront/cachefront/examples/productapi/internal/config"
	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
	testSecret    = "test-secret-0123456789abcdef0123456789"
)

// env is one running API: a real router on httptest, a fresh database of one
// dialect, and Redis (miniredis in process, or CACHEFRONT_REDIS_ADDR).
type env struct {
	t     *testing.T
	app   *app.App
	srv   *httptest.Server
	admin string               // an admin's bearer token
	mr    *miniredis.Miniredis // nil when CACHEFRONT_REDIS_ADDR names a real Redis
}

// forEachDialect runs f against a fresh API on every dialect under test.
func forEachDialect(t *testing.T, f func(t *testing.T, e *env)) {
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			f(t, newEnv(t, d, nil))
		})
	}
}

func newEnv(t *testing.T, dialect string, extra map[string]string) *env {
	t.Helper()
	return startEnv(t, dialect, envOptions{extra: extra})
}

// envOptions are the less common settings of startEnv.
type envOptions struct {
	extra map[string]string // configuration variables, over the defaults
	log   io.Writer         // receives the app's JSON log; nil discards it
	// embeddedRedis leaves REDIS_URL and REDIS_ADDRS unset, so that the
	// app starts its own development Redis, as a default run does.
	embeddedRedis bool
}

func startEnv(t *testing.T, dialect string, o envOptions) *env {
	t.Helper()
	vars := map[string]string{
		"DATABASE_URL":          dbtest.URL(t, dialect),
		"JWT_SECRET":            testSecret,
		"ADMIN_EMAIL":           adminEmail,
		"ADMIN_PASSWORD":        adminPassword,
		"BCRYPT_COST":           "4",
		"LOGIN_RATE_PER_MINUTE": "1000",
		"CACHE_NAMESPACE":       "productapi-test-" + randomHex(6),
	}
	var mr *miniredis.Miniredis
	switch addr := os.Getenv("CACHEFRONT_REDIS_ADDR"); {
	case o.embeddedRedis:
	case addr != "":
		vars["REDIS_ADDRS"] = addr
	default:
		mr = miniredis.RunT(t)
		vars["REDIS_URL"] = "redis://" + mr.Addr()
	}
	for k, v := range o.extra {
		vars[k] = v
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logOut := o.log
	if logOut == nil {
		logOut = io.Discard
		if testing.Verbose() && os.Getenv("PRODUCTAPI_TEST_LOG") != "" {
			logOut = os.Stderr
		}
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logOut, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, app: a, srv: srv, mr: mr}
	e.seed()
	e.admin = e.login(vars["ADMIN_EMAIL"], vars["ADMIN_PASSWORD"])
	return e
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seed writes a small known catalogue straight into the database.
func (e *env) seed() {
	e.t.Helper()
	d := e.app.DB
	now := d.Dialect.TimeArg(time.Now())
	ctx := context.Background()
	for _, c := range []struct {
		id   int64
		name string
	}{{1, "Beading & Jewelry Making"}, {2, "Fabric Decorating"}, {3, "Knitting & Crochet Supplies"}} {
		if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`INSERT INTO categories (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`), c.id, c.name, now, now); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, p := range []struct {
		asin    string
		title   string
		stars   float64
		reviews int64
		price   float64
		cat     int64
		best    bool
	}{
		{"B000000001", "Sterling Silver Beads 100 Pack", 4.5, 120, 12.99, 1, true},
		{"B000000002", "Elastic Beading Cord, Clear", 4.2, 3400, 5.49, 1, false},
		{"B000000003", "Fabric Paint Set, 24 Colours", 4.7, 890, 19.99, 2, true},
		{"B000000004", "Tie-Dye Kit for Kids", 3.9, 45, 24.00, 2, false},
		{"B000000005", "Merino Wool Yarn 50% Off", 4.8, 15000, 8.75, 3, false},
		{"B000000006", "Bamboo Knitting Needles_Set", 4.1, 610, 15.00, 3, false},
	} {
		best := any(p.best)
		if d.Dialect == "sqlite" {
			best = map[bool]int{false: 0, true: 1}[p.best]
		}
		if _, err := d.ExecContext(ctx, d.Dialect.Rebind(`INSERT INTO products (asin, title, img_url, product_url, stars, reviews, price, list_price, category_id, is_best_seller, bought_in_last_month, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			p.asin, p.title, "https://m.media-amazon.com/images/I/"+p.asin+".jpg", "https://www.amazon.com/dp/"+p.asin,
			p.stars, p.reviews, p.price, 0.0, p.cat, best, 100, now, now); err != nil {
			e.t.Fatal(err)
		}
	}
}

// with returns a copy of e that reports to t, for subtests.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// response is a finished HTTP exchange.
type response struct {
	*http.Response
	body []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// do sends a request; body may be nil, a string, []byte, an io.Reader, or a
// value to encode as JSON.
func (e *env) do(method, path, token string, body any, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader: // sent as is: chunked, unless it is one whose length net/http knows
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{Response: resp, body: b}
}

// must fails the test unless r has status want.
func (e *env) must(r *response, want int) *response {
	e.t.Helper()
	if r.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.RequestURI(), r.StatusCode, want, r.body)
	}
	return r
}

func (e *env) login(email, password string) string {
	e.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	e.must(e.do("POST", "/auth/login", "", map[string]string{"email": email, "password": password}), 200).json(e.t, &tok)
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		e.t.Fatalf("login response %+v", tok)
	}
	return tok.AccessToken
}

// userToken registers a new user and returns its token.
func (e *env) userToken() string {
	e.t.Helper()
	email := "user-" + randomHex(4) + "@example.com"
	e.must(e.do("POST", "/auth/register", "", map[string]string{"email": email, "password": "correct-horse"}), 201)
	return e.login(email, "correct-horse")
}
