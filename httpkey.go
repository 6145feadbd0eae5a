package cachefront

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

// keyParts are a request's cacheability facts that the key depends on.
type keyParts struct {
	key    string
	bypass bool   // the bypass parameter asked to skip the cache
	why    string // non-empty: the request cannot be cached (the Cache-Status detail)
}

// requestKey builds r's cache key without the user part.
func (m *httpCache) requestKey(r *http.Request) keyParts {
	var b strings.Builder
	b.Grow(64)
	b.WriteString("GET ")
	var kp keyParts
	if m.cfg.keyFunc != nil {
		k := m.cfg.keyFunc(r)
		if k == "" {
			return keyParts{why: "key"}
		}
		b.WriteByte('~')
		b.WriteString(url.QueryEscape(k))
		_, kp.bypass, _ = canonicalQuery(r.URL.RawQuery, m.cfg.bypassParam)
	} else {
		p := r.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		if p[0] != '/' {
			return keyParts{why: "key"}
		}
		q, bypass, ok := canonicalQuery(r.URL.RawQuery, m.cfg.bypassParam)
		if !ok {
			return keyParts{why: "key"}
		}
		kp.bypass = bypass
		b.WriteString(p)
		if q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
	}
	for _, name := range m.cfg.vary {
		appendVary(&b, r, name)
	}
	kp.key = b.String()
	return kp
}

// withUser adds a WithUserKey identity to a key.
func withUser(key, user string) string {
	if user == "" {
		return key
	}
	return key + " u:" + url.QueryEscape(user)
}

func appendVary(b *strings.Builder, r *http.Request, name string) {
	b.WriteString(" h:")
	b.WriteString(name)
	var values []string
	if name == "Host" {
		if r.Host == "" {
			return
		}
		values = []string{r.Host}
	} else if values = r.Header.Values(name); len(values) == 0 {
		return
	}
	b.WriteByte('=')
	if sensitiveHeader(name) {
		h := sha256.New()
		for _, v := range values {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		b.WriteByte('#')
		b.WriteString(hex.EncodeToString(h.Sum(nil)[:16]))
		return
	}
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(url.QueryEscape(v))
	}
}

func sensitiveHeader(name string) bool {
	return name == "Authorization" || name == "Proxy-Authorization" || name == "Cookie"
}

// canonicalQuery returns raw's parameters sorted by name, re-escaped, without
// the bypass parameter, and whether that parameter asked for a bypass. ok is
// false when raw does not parse (as url.ParseQuery sees it: a bad escape or a
// semicolon), so that a request the handler may read differently from the key
// is never cached.
func canonicalQuery(raw, bypassParam string) (q string, bypass, ok bool) {
	if raw == "" {
		return "", false, true
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ";") {
			return "", false, false
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", false, false
		}
		if bypassParam != "" && k == bypassParam {
			if b, err := strconv.ParseBool(v); v == "" || err == nil && b {
				bypass = true
			}
			continue
		}
		pairs = append(pairs, pair{k, v})
	}
	// Stable: the values of one name keep their order, as r.URL.Query() does.
	slices.SortStableFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	var b strings.Builder
	b.Grow(len(raw))
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.v))
	}
	return b.String(), bypass, true
}

// credentials reports which credential headers r carries.
func credentials(r *http.Request) (auth, cookie bool) {
	return len(r.Header.Values("Authorization")) > 0, len(r.Header.Values("Cookie")) > 0
}
