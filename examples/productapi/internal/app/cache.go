package app

import (
	"net/http"

	"github.com/cachefront/cachefront"

	"github.com/cachefront/cachefront/examples/productapi/internal/httpapi"
)

// cacheFunc returns the response cache of the GET routes: cachefront's
// middleware on the service's Store, with the configured TTL, one cache
// name (and so one metrics label) per route.
func (a *App) cacheFunc() httpapi.CacheFunc {
	return func(name string, tags func(*http.Request) []string, public bool) func(http.Handler) http.Handler {
		opts := []cachefront.Option{
			cachefront.WithName(name),
			cachefront.WithTTL(a.Config.CacheTTL),
			cachefront.WithTagsFunc(tags),
		}
		if public {
			opts = append(opts, cachefront.WithPublic())
		}
		return cachefront.Middleware(a.Store, opts...)
	}
}
