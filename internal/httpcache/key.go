package httpcache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// HTTP cache keys, before the Store prefixes them with its namespace and the
// middleware's name (and hashes any key over 256 bytes):
//
//	GET /products?category=42&page=2 h:Accept-Language=en u:1234
//
// that is the method (always GET: HEAD is answered from the GET entry), the
// escaped path, the query parameters sorted by name (values of a repeated
// name keep their order, which handlers see) without the bypass parameter,
// then one " h:" part per WithVary header and a " u:" part for a WithUserKey
// identity. A WithKeyFunc key replaces the path and query as "~<key>".
// Every variable part is escaped, so parts never contain a space and two
// different requests never build the same key. A header that is absent
// ("h:Name") differs from one that is present and empty ("h:Name=");
// credential headers are hashed rather than written out.

// KeyRules are the settings a route's keys are built from.
type KeyRules struct {
	KeyFunc     func(*http.Request) string // replaces the path and query
	BypassParam string                     // the query parameter that skips the cache ("" for none)
	Vary        []string                   // canonical header names, sorted and unique
}

// MaxVary bounds the request headers a route's keys hold: those of
// WithVary and those its responses' Vary named.
const MaxVary = 16

// Learn returns the rules with the headers of names added to Vary, and
// whether they all fit (MaxVary); names must be canonical.
func (kr *KeyRules) Learn(names []string) (KeyRules, bool) {
	out := *kr
	out.Vary = slices.Clone(kr.Vary)
	for _, n := range names {
		if !slices.Contains(out.Vary, n) {
			out.Vary = append(out.Vary, n)
		}
	}
	slices.Sort(out.Vary)
	return out, len(out.Vary) <= MaxVary
}

// Covers reports whether keys built by kr hold every header of names.
func (kr *KeyRules) Covers(names []string) bool {
	for _, n := range names {
		if !slices.Contains(kr.Vary, n) {
			return false
		}
	}
	return true
}

// WhyMalformedQuery is the reason given for a request whose query string
// does not parse; such a request is answered by WithBadRequestHandler.
const WhyMalformedQuery = "malformed-query"

// AppendKey appends r's cache key without the user part to dst. why
// is non-empty (the Cache-Status detail) when r cannot be cached; bypass
// reports that the bypass parameter asked to skip the cache.
func (kr *KeyRules) AppendKey(dst []byte, r *http.Request) (key []byte, bypass bool, why string) {
	key = append(dst, "GET "...)
	var pairs [16]queryPair
	if kr.KeyFunc != nil {
		k := kr.KeyFunc(r)
		if k == "" {
			return dst, false, "key"
		}
		key = append(key, '~')
		key = append(key, url.QueryEscape(k)...)
		var ok bool
		if _, bypass, ok = parseQuery(pairs[:0], r.URL.RawQuery, kr.BypassParam); !ok {
			return dst, false, WhyMalformedQuery
		}
	} else {
		p := r.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		if p[0] != '/' {
			return dst, false, "key"
		}
		q, bp, ok := parseQuery(pairs[:0], r.URL.RawQuery, kr.BypassParam)
		if !ok {
			return dst, false, WhyMalformedQuery
		}
		bypass = bp
		key = append(key, p...)
		if len(q) > 0 {
			key = append(key, '?')
			key = appendQuery(key, q)
		}
	}
	for _, name := range kr.Vary {
		key = appendVary(key, r, name)
	}
	return key, bypass, ""
}

// AppendUser adds a WithUserKey identity to a key.
func AppendUser(key []byte, user string) []byte {
	if user == "" {
		return key
	}
	key = append(key, " u:"...)
	return append(key, url.QueryEscape(user)...)
}

func appendVary(b []byte, r *http.Request, name string) []byte {
	b = append(b, " h:"...)
	b = append(b, name...)
	var values []string
	if name == "Host" {
		if r.Host == "" {
			return b
		}
		values = []string{r.Host}
	} else if values = r.Header.Values(name); len(values) == 0 {
		return b
	}
	b = append(b, '=')
	if sensitiveHeader(name) {
		h := sha256.New()
		for _, v := range values {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		b = append(b, '#')
		return hex.AppendEncode(b, h.Sum(nil)[:16])
	}
	// RFC 9111 §4.1: values that mean the same match. Items of a list
	// field are compared without the whitespace around them, and content
	// codings without their case.
	first := true
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			if name == "Accept-Encoding" {
				item = strings.ToLower(item)
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, url.QueryEscape(item)...)
		}
	}
	return b
}

func sensitiveHeader(name string) bool {
	return name == "Authorization" || name == "Proxy-Authorization" || name == "Cookie"
}

// queryPair is one query parameter, unescaped.
type queryPair struct{ k, v string }

// parseQuery appends raw's parameters to pairs, sorted by name, without the
// bypass parameter, and reports whether that parameter asked for a bypass.
// ok is false when raw does not parse (as url.ParseQuery sees it: a bad
// escape or a semicolon), so that a request the handler may read differently
// from the key is never cached.
func parseQuery(pairs []queryPair, raw, bypassParam string) (_ []queryPair, bypass, ok bool) {
	if raw == "" {
		return pairs, false, true
	}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ";") {
			return pairs, false, false
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return pairs, false, false
		}
		if bypassParam != "" && k == bypassParam {
			if b, err := strconv.ParseBool(v); v == "" || err == nil && b {
				bypass = true
			}
			continue
		}
		pairs = append(pairs, queryPair{k, v})
	}
	// Stable: the values of one name keep their order, as r.URL.Query() does.
	slices.SortStableFunc(pairs, func(a, b queryPair) int { return strings.Compare(a.k, b.k) })
	return pairs, bypass, true
}

// appendQuery appends pairs, re-escaped, in the canonical form of a key.
func appendQuery(b []byte, pairs []queryPair) []byte {
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, url.QueryEscape(p.k)...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(p.v)...)
	}
	return b
}

// Credentials reports which credential headers r carries.
func Credentials(r *http.Request) (auth, cookie bool) {
	return len(r.Header["Authorization"]) > 0, len(r.Header["Cookie"]) > 0
}

// URIPart returns the part of a key built by AppendKey that names the
// target URI (the method, path and query, or a WithKeyFunc key), without
// the header and user parts.
func URIPart(key string) string {
	if i := strings.IndexByte(key[min(4, len(key)):], ' '); i >= 0 {
		return key[:4+i]
	}
	return key
}

// URITag returns the tag every stored response of the target URI a key
// names carries, so that an unsafe request to that URI (RFC 9111 §4.4)
// invalidates them all, whatever their variants and users.
func URITag(uriPart string) string {
	sum := sha256.Sum256([]byte(uriPart))
	return "#uri:" + hex.EncodeToString(sum[:16])
}

// SafeMethod reports the methods RFC 9110 §9.2.1 defines as safe.
func SafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// SameOrigin resolves ref (a Location or Content-Location value) against
// r's URL and returns it when it has r's origin (RFC 9111 §4.4 invalidates
// only those), nil otherwise or when it does not parse.
func SameOrigin(r *http.Request, ref string) *url.URL {
	if ref == "" {
		return nil
	}
	u, err := r.URL.Parse(ref)
	if err != nil {
		return nil
	}
	if u.Host == "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if !strings.EqualFold(u.Host, r.Host) || u.Scheme != "" && !strings.EqualFold(u.Scheme, scheme) {
		return nil
	}
	u.Scheme, u.Host = "", "" // keyed by path and query only
	return u
}
