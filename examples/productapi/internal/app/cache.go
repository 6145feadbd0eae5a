package app

import "github.com/cachefront/cachefront/examples/productapi/internal/httpapi"

// cacheFunc returns the response cache of the GET routes.
func (a *App) cacheFunc() httpapi.CacheFunc { return nil }
