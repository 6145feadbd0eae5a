// Package httpapi is the product API's HTTP layer: the routes of the API,
// their JSON handlers, and the request plumbing around them (request IDs,
// access logs, per-route metrics, panics, body limits, JSON errors).
package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachefront/cachefront/examples/productapi/internal/auth"
	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

// Importer loads CSV files in the Kaggle format; its results are written
// back as JSON.
type Importer interface {
	ImportCategories(ctx context.Context, r io.Reader) (any, error)
	ImportProducts(ctx context.Context, r io.Reader) (any, error)
}

// CacheRoute describes a cached GET route.
type CacheRoute struct {
	// Name names the route's cache (and labels its metrics).
	Name string
	// Key returns the request's key, its canonical form: requests with
	// the same key get the same response.
	Key func(*http.Request) string
	// Tags returns the tags of the request's entry.
	Tags func(*http.Request) []string
	// Public says the route's responses may be shared although the request
	// carries credentials (the route's guard has already decided who may
	// see them).
	Public bool
}

// CacheFunc returns the response-caching middleware of a GET route.
type CacheFunc func(CacheRoute) func(http.Handler) http.Handler

// Deps is what the router needs. Fields marked optional may be nil.
type Deps struct {
	Catalog  *catalog.Service
	Users    *users.Store
	Tokens   *auth.Tokens
	Store    *cachefront.Store
	Gatherer prometheus.Gatherer
	Metrics  *Metrics
	Log      *slog.Logger

	Cache      CacheFunc                                       // optional: GET routes are then not cached
	Importer   Importer                                        // optional: the import routes then answer 503
	Ready      func(ctx context.Context) map[string]error      // readiness: the failure of each dependency that failed
	Invalidate func(ctx context.Context, tags ...string) error // invalidation after writes

	LoginPerClient  *auth.Limiter // login attempts per client address
	LoginPerAccount *auth.Limiter // login attempts per email

	// TopKeys is how many keys the stats route lists, the most read across
	// caches (as cachefront.WithTopKeys counts them); 0 lists every key the
	// caches report.
	TopKeys int

	MaxBodyBytes   int64
	MaxImportBytes int64
}

// api holds the handlers' dependencies.
type api struct {
	Deps
}

// New returns the API's handler: every route of the table in the design,
// wrapped in panic recovery, request IDs and access logs.
func New(d Deps) http.Handler {
	a := &api{Deps: d}
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler, mw ...func(http.Handler) http.Handler) {
		for i := len(mw) - 1; i >= 0; i-- {
			if mw[i] != nil {
				h = mw[i](h)
			}
		}
		mux.Handle(pattern, a.Metrics.instrument(pattern, h))
	}
	// The guards read the account's role from the database on every
	// request: a deleted or demoted account loses its rights at once, not
	// when its token expires.
	anyone := a.Tokens.RequireAccount(writeError, a.currentRole)
	admin := a.Tokens.RequireAccount(writeError, a.currentRole, users.RoleAdmin)
	tags := func(t ...string) func(*http.Request) []string { return func(*http.Request) []string { return t } }

	malformed := checkQuery(nil) // every route: refuse a query url.ParseQuery cannot read
	only := checkQuery(onlyBypass)

	// Auth.
	handle("POST /auth/register", http.HandlerFunc(a.register), malformed)
	handle("POST /auth/login", http.HandlerFunc(a.login), malformed)
	handle("GET /auth/me", http.HandlerFunc(a.me), malformed, anyone)

	// Catalogue. Its read handlers never look at credentials, so their
	// responses are public: a signed-in client shares the anonymous entries.
	// The query is checked before the cache, which keys each route by the
	// request's canonical form.
	handle("GET /categories", http.HandlerFunc(a.categories), only,
		a.cached(CacheRoute{Name: "categories", Key: categoriesKey, Tags: tags(catalog.TagCategories), Public: true}))
	handle("GET /products", http.HandlerFunc(a.listProducts), checkQuery(listQuery),
		a.cached(CacheRoute{Name: "product-lists", Key: productListKey, Tags: productListTags, Public: true}))
	handle("GET /products/{asin}", http.HandlerFunc(a.getProduct), only,
		a.cached(CacheRoute{Name: "product-pages", Key: productKey, Tags: productTags, Public: true}))
	handle("POST /products", http.HandlerFunc(a.createProduct), malformed, admin)
	handle("PUT /products/{asin}", http.HandlerFunc(a.updateProduct), malformed, admin)
	handle("DELETE /products/{asin}", http.HandlerFunc(a.deleteProduct), malformed, admin)

	// Administration. The guard runs before the cache, so a cached admin
	// page is only ever served to an admin.
	handle("POST /admin/import/categories", http.HandlerFunc(a.importCategories), malformed, admin)
	handle("POST /admin/import/products", http.HandlerFunc(a.importProducts), malformed, admin)
	handle("GET /admin/users", http.HandlerFunc(a.listUsers), only, admin,
		a.cached(CacheRoute{Name: "admin-users", Key: usersKey, Tags: tags(users.TagUsers), Public: true}))
	handle("DELETE /admin/cache/keys/{key...}", http.HandlerFunc(a.deleteCacheKey), malformed, admin)
	handle("DELETE /admin/cache/tags/{tag...}", http.HandlerFunc(a.invalidateCacheTag), malformed, admin)
	handle("GET /admin/cache/stats", http.HandlerFunc(a.cacheStats), malformed, admin)

	// Operations.
	handle("GET /metrics", promhttp.HandlerFor(a.Gatherer, promhttp.HandlerOpts{}), malformed)
	handle("GET /healthz", http.HandlerFunc(a.healthz), malformed)
	handle("GET /readyz", http.HandlerFunc(a.readyz), malformed)
	handle("GET /openapi.json", http.HandlerFunc(serveOpenAPI), malformed)

	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			a.Metrics.instrument("unmatched", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				notRouted(mux, w, r)
			})).ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	h = AccessLog(a.Log)(h)
	h = Recover(a.Log)(h)
	h = RequestID(h)
	return h
}

// notRouted answers a request no route matched with ServeMux's status (404,
// or 405 with its Allow header) and a JSON body.
func notRouted(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	h, _ := mux.Handler(r)
	probe := &headerOnly{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if probe.status == http.StatusMethodNotAllowed {
		writeError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" is not allowed here")
		return
	}
	writeError(w, r, http.StatusNotFound, "not_found", "no such route")
}

// headerOnly records what an error handler would answer, discarding the body.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.header }
func (h *headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (h *headerOnly) WriteHeader(code int)        { h.status = code }

// cached returns the caching middleware of a GET route, or nil (the route
// is not cached) without Deps.Cache.
func (a *api) cached(route CacheRoute) func(http.Handler) http.Handler {
	if a.Cache == nil {
		return nil
	}
	return a.Cache(route)
}

// currentRole returns the role account id has now.
func (a *api) currentRole(ctx context.Context, id int64) (string, error) {
	u, err := a.Users.ByID(ctx, id)
	if errors.Is(err, users.ErrNotFound) {
		return "", auth.ErrNoAccount
	}
	return u.Role, err
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when every dependency answers, 503 otherwise, naming
// the ones that failed; the errors themselves (addresses, say) go to the log
// only.
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := a.Ready(ctx)
	if len(failed) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
		return
	}
	names := make([]string, 0, len(failed))
	for name, err := range failed {
		names = append(names, name)
		a.Log.WarnContext(ctx, "not ready", "dependency", name, "error", err)
	}
	sort.Strings(names)
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": names})
}
