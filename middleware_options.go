package cachefront

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// httpConfig holds the settings of Middleware.
type httpConfig struct {
	name          string
	tagsFuncs     []func(*http.Request) []string
	vary          []string // canonical header names, sorted and unique
	keyFunc       func(*http.Request) string
	userKey       func(*http.Request) string
	public        bool
	statuses      []int
	maxBody       int64
	bypassParam   string
	bypassAllowed func(*http.Request) bool
	badRequest    http.Handler // answers requests with a malformed query string
}

// Middleware defaults.
const (
	// DefaultHTTPName is the cache name of a Middleware without WithName: it
	// separates the middleware's key space and labels its metrics.
	DefaultHTTPName = "http"
	// DefaultMaxBodySize is the largest response body Middleware stores.
	DefaultMaxBodySize = 1 << 20
	// DefaultBypassParam is the query parameter that makes Middleware skip
	// the cache for one request.
	DefaultBypassParam = "nocache"
)

func defaultHTTPConfig() httpConfig {
	return httpConfig{
		name:        DefaultHTTPName,
		statuses:    []int{http.StatusOK},
		maxBody:     DefaultMaxBodySize,
		bypassParam: DefaultBypassParam,
		badRequest:  malformedQuery,
	}
}

// validate checks what single options cannot: their combinations.
func (h *httpConfig) validate() error {
	if h.public && h.userKey != nil {
		return fmt.Errorf("%w: WithPublic and WithUserKey contradict each other: a route is either shared by all users or keyed per user", ErrInvalidOption)
	}
	return nil
}

func httpOption(name string, fn func(*httpConfig) error) Option {
	return option{name, scopeHTTP, func(c *config) error { return fn(&c.http) }}
}

// WithName names the Middleware's cache. The name separates the route's keys
// from other routes' (two middlewares with different names never share an
// entry) and labels its metrics (cachefront_hits_total{cache="<name>"}, …),
// so give each route or group of routes a name of its own to see them apart;
// the name is never a URL, so label sets stay small. Letters, digits, '_',
// '-' and '.' only. Applies to Middleware. Default "http".
func WithName(name string) Option {
	return httpOption("WithName", func(h *httpConfig) error {
		if err := validName(name); err != nil {
			return err
		}
		h.name = name
		return nil
	})
}

// WithTagsFunc tags each stored response with the tags fn returns for its
// request, in addition to the route's WithTags and the tags the handler adds
// with AddTags. A later Store.InvalidateTags of any of them invalidates the
// response. fn runs once per cacheable request, before the cache is read
// (the tags are checked on the read); it must be safe for concurrent use. A
// request for which fn returns an empty or over-long tag is served without
// the cache and counted under cachefront_errors_total{op="tags"}. Several
// WithTagsFunc add up. Applies to Middleware. Default: none.
func WithTagsFunc(fn func(r *http.Request) []string) Option {
	return httpOption("WithTagsFunc", func(h *httpConfig) error {
		if fn == nil {
			return fmt.Errorf("tags function is nil")
		}
		h.tagsFuncs = append(h.tagsFuncs[:len(h.tagsFuncs):len(h.tagsFuncs)], fn)
		return nil
	})
}

// WithVary adds the values of the named request headers to the cache key,
// so that, say, WithVary("Accept-Language") stores one response per
// language. "Host" names the request's host (r.Host). Values of
// Authorization, Proxy-Authorization and Cookie are hashed in the key, never
// stored in clear; naming Authorization or Cookie also lets requests that
// carry them be cached, one entry per distinct value.
//
// A response whose own Vary header names a request header missing from this
// list (or says "*") is not stored: it depends on something the key does not
// hold. Several WithVary add up. Applies to Middleware. Default: none.
func WithVary(headers ...string) Option {
	return httpOption("WithVary", func(h *httpConfig) error {
		vary := slices.Clone(h.vary)
		for _, name := range headers {
			if !validHeaderName(name) {
				return fmt.Errorf("%q is not a header name", name)
			}
			vary = append(vary, textproto.CanonicalMIMEHeaderKey(name))
		}
		slices.Sort(vary)
		h.vary = slices.Compact(vary)
		return nil
	})
}

// WithKeyFunc replaces the method, path and query part of the cache key by
// what fn returns for the request; the WithVary headers and the WithUserKey
// identity are still added to it, and the credentials rule still holds (a
// key function does not make a request with credentials cacheable). An
// empty key serves the request without the cache. fn must be safe for
// concurrent use and must return different keys for requests whose
// responses differ. Applies to Middleware. Default: the method, the escaped
// path and the query parameters sorted by name, without the bypass
// parameter.
func WithKeyFunc(fn func(r *http.Request) string) Option {
	return httpOption("WithKeyFunc", func(h *httpConfig) error {
		if fn == nil {
			return fmt.Errorf("key function is nil")
		}
		h.keyFunc = fn
		return nil
	})
}

// WithUserKey caches the route per user: fn returns the identity of the
// request's user (a user ID from a verified token, say), which becomes part
// of the key, so that a user's entry is only ever served to that user.
// Requests carrying Authorization or a cookie are then cached too, under
// their user; when fn returns "" the request is anonymous: it shares the
// anonymous entry if it carries no credentials, and bypasses the cache if it
// does (credentials fn did not recognise). Because the cache is then private
// to each user, responses marked Cache-Control: private are stored as well
// (no-store ones still never are).
//
// fn runs once per cacheable request and must be safe for concurrent use;
// it sees the request as the middleware does, so an authentication
// middleware must run before it. Conflicts with WithPublic. Applies to
// Middleware. Default: none (requests with credentials bypass the cache).
func WithUserKey(fn func(r *http.Request) string) Option {
	return httpOption("WithUserKey", func(h *httpConfig) error {
		if fn == nil {
			return fmt.Errorf("user key function is nil")
		}
		h.userKey = fn
		return nil
	})
}

// WithPublic declares that the route's responses do not depend on who asks:
// requests carrying Authorization or cookies are served from, and stored in,
// the same entries as anonymous ones. Use it only for routes whose handler
// ignores credentials (a public catalogue behind a site-wide session
// cookie, say). Conflicts with WithUserKey. Applies to Middleware. Default:
// off (requests with credentials bypass the cache).
func WithPublic() Option {
	return httpOption("WithPublic", func(h *httpConfig) error {
		h.public = true
		return nil
	})
}

// WithCacheableStatus sets the response status codes that may be stored,
// replacing the default list. Codes must lie in 200–599; 206 (partial) and
// 304 (not modified) can never be stored. Applies to Middleware. Default:
// 200 only.
func WithCacheableStatus(codes ...int) Option {
	return httpOption("WithCacheableStatus", func(h *httpConfig) error {
		if len(codes) == 0 {
			return fmt.Errorf("no status code given")
		}
		for _, c := range codes {
			if c < 200 || c > 599 || c == http.StatusPartialContent || c == http.StatusNotModified {
				return fmt.Errorf("status %d cannot be stored", c)
			}
		}
		list := slices.Clone(codes)
		slices.Sort(list)
		h.statuses = slices.Compact(list)
		return nil
	})
}

// WithMaxBodySize sets the largest response body, in bytes, that is stored.
// A larger response still reaches its client in full, streamed: the
// middleware keeps at most n bytes of it in memory and stops buffering once
// it passes n. n must be positive. Applies to Middleware. Default 1 MiB.
func WithMaxBodySize(n int64) Option {
	return httpOption("WithMaxBodySize", func(h *httpConfig) error {
		if n <= 0 {
			return fmt.Errorf("max body size must be positive, got %d", n)
		}
		h.maxBody = n
		return nil
	})
}

// WithBypassParam names the query parameter that skips the cache for one
// request (neither read nor written; X-Cache: BYPASS): present empty, or
// with a value strconv.ParseBool reads as true (?nocache, ?nocache=1,
// ?nocache=true). The parameter is never part of the cache key, whatever its
// value. An empty name turns bypassing off (the parameter is then an
// ordinary one). See WithBypassAllowed to limit who may bypass. Applies to
// Middleware. Default "nocache".
func WithBypassParam(name string) Option {
	return httpOption("WithBypassParam", func(h *httpConfig) error {
		h.bypassParam = name
		return nil
	})
}

// WithBypassAllowed limits the bypass parameter to the requests for which
// allowed returns true (an administrator's, say); for the others the
// parameter is ignored and the cache used as usual. Anyone may otherwise
// send every request past the cache to the source. allowed must be safe for
// concurrent use. Applies to Middleware. Default: everyone may bypass.
func WithBypassAllowed(allowed func(r *http.Request) bool) Option {
	return httpOption("WithBypassAllowed", func(h *httpConfig) error {
		if allowed == nil {
			return fmt.Errorf("bypass predicate is nil")
		}
		h.bypassAllowed = allowed
		return nil
	})
}

// WithBadRequestHandler sets the handler that answers a request whose query
// string does not parse (a semicolon, a bad percent-escape: what
// url.ParseQuery rejects and URL.Query silently drops). The middleware never
// sends such a request to the route's handler, which could read another
// query from it than the key does, and never treats it as a bypass, which
// would make it a cheap way past the cache. Applies to Middleware. Default:
// 400 Bad Request with a plain-text body.
func WithBadRequestHandler(h http.Handler) Option {
	return httpOption("WithBadRequestHandler", func(c *httpConfig) error {
		if h == nil {
			return fmt.Errorf("bad request handler is nil")
		}
		c.badRequest = h
		return nil
	})
}

// malformedQuery is the default WithBadRequestHandler.
var malformedQuery = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "malformed query string", http.StatusBadRequest)
})

// validHeaderName accepts RFC 9110 field names (tokens).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
