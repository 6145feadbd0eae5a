package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
)

// bypassParam is the query parameter that skips the cache for one request
// (cachefront's default, honoured as CACHE_BYPASS says).
const bypassParam = "nocache"

// queryRule checks the parsed query of one route; nil accepts any.
type queryRule func(q url.Values) *apiError

// checkQuery returns the middleware that parses the query of every request
// of a route with url.ParseQuery, refusing one it cannot parse (a
// semicolon, a bad percent escape) with 400 invalid_query, and then applies
// rule. r.URL.Query() would silently drop the pairs it cannot parse and
// answer as if they had not been sent. It runs before the route's cache, so
// that a refused query never reaches, nor is served from, an entry.
func checkQuery(rule queryRule) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				writeAPIError(w, r, newError(http.StatusBadRequest, "invalid_query",
					"malformed query string (a semicolon, or a bad percent escape): %v", err))
				return
			}
			if rule != nil {
				if e := rule(q); e != nil {
					writeAPIError(w, r, e)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// onlyBypass is the rule of the cached routes that take no parameter but
// the bypass one: anything else would make a new cache entry for the same
// response.
func onlyBypass(q url.Values) *apiError {
	for k := range q {
		if k != bypassParam {
			return fieldError(k, "unknown query parameter")
		}
	}
	return checkBypass(q)
}

// checkBypass refuses a bypass parameter given twice or with a value that
// is neither empty nor a boolean.
func checkBypass(q url.Values) *apiError {
	v, ok := q[bypassParam]
	if !ok {
		return nil
	}
	if len(v) > 1 {
		return fieldError(bypassParam, "given more than once")
	}
	if _, err := strconv.ParseBool(v[0]); v[0] != "" && err != nil {
		return fieldError(bypassParam, "must be true or false")
	}
	return nil
}

// listQuery is the rule of GET /products: a valid filter.
func listQuery(q url.Values) *apiError {
	if _, err := catalog.ParseFilter(q, bypassParam); err != nil {
		var fe *catalog.FieldError
		if errors.As(err, &fe) {
			return fieldError(fe.Field, fe.Reason)
		}
		return newError(http.StatusBadRequest, "invalid_query", "%v", err)
	}
	return checkBypass(q)
}

// listFilter returns the filter of a GET /products request, which
// checkQuery has already checked.
func listFilter(r *http.Request) (catalog.Filter, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return catalog.Filter{}, err
	}
	return catalog.ParseFilter(q, bypassParam)
}

// Cache keys of the cached routes: the parsed request in canonical form,
// so that different spellings of one request share one entry. An empty key
// (a request the route refuses, which checkQuery answers before the cache
// is reached) sends the request past the cache.
func categoriesKey(*http.Request) string { return "/categories" }

func usersKey(*http.Request) string { return "/admin/users" }

func productKey(r *http.Request) string {
	if !catalog.ValidASIN(r.PathValue("asin")) {
		return ""
	}
	return "/products/" + r.PathValue("asin")
}

func productListKey(r *http.Request) string {
	f, err := listFilter(r)
	if err != nil {
		return ""
	}
	if c := f.Canonical(); c != "" {
		return "/products?" + c
	}
	return "/products"
}
