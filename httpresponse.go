package cachefront

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cachedResponse is what Middleware stores: a complete response, encoded with
// msgpack like any Cache value. Its ETag, computed once when it was built,
// lives in Header, so every instance serves the same one.
type cachedResponse struct {
	Status int         `msgpack:"s"`
	Header http.Header `msgpack:"h"`
	Body   []byte      `msgpack:"b"`
}

// httpResponseTypeName names cachedResponse in entry headers. Change it when
// the struct changes incompatibly: older entries then read as foreign misses.
const httpResponseTypeName = "cachefront.HTTPResponse/1"

// unstorable returns why a response with this status and header may not be
// stored, or "" when it may. initial holds what middleware outside the cache
// had set before the handler ran: it sets that again on every response, so
// its cookies and Vary values are not the handler's. userKeyed routes are
// private caches, where Cache-Control: private is allowed.
func (m *httpCache) unstorable(status int, h, initial http.Header, userKeyed bool) string {
	if !slices.Contains(m.cfg.statuses, status) {
		return "status"
	}
	if v, ok := h["Set-Cookie"]; ok && !slices.Equal(v, initial["Set-Cookie"]) {
		return "set-cookie"
	}
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch {
			case strings.EqualFold(name, "no-store"):
				return "no-store"
			case strings.EqualFold(name, "private") && !userKeyed:
				return "private"
			}
		}
	}
	for _, v := range h["Vary"] {
		if slices.Contains(initial["Vary"], v) {
			continue
		}
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if name == "*" || !slices.ContainsFunc(m.cfg.vary, func(s string) bool { return strings.EqualFold(s, name) }) {
				return "vary"
			}
		}
	}
	if _, ok := h["Trailer"]; ok {
		return "trailer"
	}
	return ""
}

// storedHeader is the part of a handler's header that belongs to the stored
// response: not hop-by-hop fields, not fields the middleware or the server
// set per response, and not fields that middleware outside the cache had
// already set (identical in initial), which it sets again on every request.
func storedHeader(h, initial http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		if perResponseHeader(k) {
			continue
		}
		if iv, ok := initial[k]; ok && slices.Equal(iv, v) {
			continue
		}
		out[k] = slices.Clone(v)
	}
	return out
}

func perResponseHeader(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade",
		"Date", "Age", "Content-Length", "X-Cache", "Cache-Status", "Set-Cookie":
		return true
	}
	return strings.HasPrefix(k, http.TrailerPrefix)
}

// strongETag returns a strong entity tag for a representation: a hash of its
// status, the header fields that identify the representation, and its body.
func strongETag(status int, h http.Header, body []byte) string {
	sum := sha256.New()
	sum.Write([]byte(strconv.Itoa(status)))
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Language", "Content-Location"} {
		sum.Write([]byte{0})
		sum.Write([]byte(strings.Join(h.Values(k), ",")))
	}
	sum.Write([]byte{0})
	sum.Write(body)
	return `"` + hex.EncodeToString(sum.Sum(nil)[:16]) + `"`
}

// hitInfo is what a response served from the cache says about itself.
type hitInfo struct {
	xcache      string // X-Cache
	cacheStatus string // Cache-Status
	created     int64  // entry creation, Unix ms; 0 for none (no Age header)
}

// serveStored answers r with resp, leaving the headers that middleware
// outside the cache set on w alone.
func serveStored(w http.ResponseWriter, r *http.Request, resp *cachedResponse, info hitInfo) {
	h := w.Header()
	for k, v := range resp.Header {
		// The entry is shared by concurrent requests (and by the local tier):
		// capping each slice's capacity makes an Add by later middleware copy
		// it instead of writing into the shared array.
		h[k] = v[:len(v):len(v)]
	}
	h.Set("X-Cache", info.xcache)
	h.Set("Cache-Status", info.cacheStatus)
	if info.created > 0 {
		age := max(time.Now().UnixMilli()-info.created, 0) / 1000
		h.Set("Age", strconv.FormatInt(age, 10))
	}
	writeComplete(w, r, resp.Status, resp.Body)
}

// writeComplete sends a complete response whose header is already in
// w.Header(): 304 Not Modified when the request's If-None-Match matches a 2xx
// response's ETag, the full response (without its body for HEAD) otherwise.
func writeComplete(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	if status >= 200 && status < 300 && noneMatchFails(r.Header.Values("If-None-Match"), h.Get("Etag")) {
		// RFC 9110 §15.4.5: a 304 carries the validators and caching fields,
		// not the representation's metadata.
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language", "Last-Modified"} {
			delete(h, k)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if bodyAllowedForStatus(status) {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && len(body) > 0 && bodyAllowedForStatus(status) {
		_, _ = w.Write(body)
	}
}

// noneMatchFails reports whether an If-None-Match condition is false for a
// representation with entity tag etag, so that a GET is answered 304. It
// uses the weak comparison RFC 9110 §13.1.2 prescribes; "*" matches any
// representation.
func noneMatchFails(fields []string, etag string) bool {
	if len(fields) == 0 {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, f := range fields {
		s := f
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			tag, rest, ok := scanETag(s)
			if !ok {
				break // a malformed list: ignore the rest of the field
			}
			if want != "" && strings.TrimPrefix(tag, "W/") == want {
				return true
			}
			s = rest
		}
	}
	return false
}

// scanETag reads one entity-tag (RFC 9110 §8.8.3) from the start of s.
func scanETag(s string) (tag, rest string, ok bool) {
	start := s
	if strings.HasPrefix(s, "W/") {
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			n := len(start) - len(s) + i + 1
			return start[:n], start[n:], true
		case c == 0x21 || c >= 0x23 && c <= 0x7E || c >= 0x80:
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// bodyAllowedForStatus mirrors net/http: 1xx, 204 and 304 have no body.
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}
