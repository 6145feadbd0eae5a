package app

import (
	"net/http"
	"strings"

	"github.com/cachefront/cachefront"

	"github.com/cachefront/cachefront/examples/productapi/internal/httpapi"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

// cacheFunc returns the response cache of the GET routes: cachefront's
// middleware on the service's Store, with the configured TTL, one cache
// name (and so one metrics label) per route, and entries keyed by the
// route's canonical form of the request (cachefront.WithKeyFunc), so that
// equivalent spellings of a query share one entry. ?nocache=true is honoured for
// admins only by default (CACHE_BYPASS), so that nobody else can send every
// request past the cache to the database.
func (a *App) cacheFunc() httpapi.CacheFunc {
	return func(route httpapi.CacheRoute) func(http.Handler) http.Handler {
		opts := []cachefront.Option{
			cachefront.WithName(route.Name),
			cachefront.WithTTL(a.Config.CacheTTL),
			cachefront.WithKeyFunc(route.Key),
			cachefront.WithTagsFunc(route.Tags),
		}
		if route.Public {
			opts = append(opts, cachefront.WithPublic())
		}
		switch a.Config.CacheBypass {
		case "off":
			opts = append(opts, cachefront.WithBypassParam(""))
		case "admin":
			opts = append(opts, cachefront.WithBypassAllowed(a.isAdmin))
		}
		return cachefront.Middleware(a.Store, opts...)
	}
}

// isAdmin reports whether r carries a valid token of an account that is
// an admin now (the database says so, not only the token).
func (a *App) isAdmin(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	c, err := a.Tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		return false
	}
	id, _ := c.UserID()
	u, err := a.Users.ByID(r.Context(), id)
	return err == nil && u.Role == users.RoleAdmin
}
