package httpcache

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// keyRules returns the rules of a route with the default bypass parameter.
func keyRules(kr KeyRules) *KeyRules {
	kr.BypassParam = "nocache"
	return &kr
}

// keyParts are what AppendKey returns, as the tests compare them.
type keyParts struct {
	key    string
	bypass bool
	why    string
}

func (kr *KeyRules) requestKey(r *http.Request) keyParts {
	key, bypass, why := kr.AppendKey(nil, r)
	if why != "" {
		return keyParts{bypass: bypass, why: why}
	}
	return keyParts{key: string(key), bypass: bypass}
}

func keyRequest(target string, headers ...string) *http.Request {
	r, err := http.NewRequest("GET", target, nil)
	if err != nil {
		panic(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestRequestKey(t *testing.T) {
	plain := keyRules(KeyRules{})
	vary := keyRules(KeyRules{Vary: []string{"Accept-Language", "Authorization", "Host"}})
	custom := keyRules(KeyRules{KeyFunc: func(r *http.Request) string {
		if id := r.URL.Query().Get("id"); id != "" {
			return id + " x"
		}
		return ""
	}})
	cases := []struct {
		name   string
		m      *KeyRules
		r      *http.Request
		key    string
		bypass bool
		why    string
	}{
		{"path only", plain, keyRequest("http://h/a"), "GET /a", false, ""},
		{"empty path", plain, &http.Request{URL: &url.URL{}}, "GET /", false, ""},
		{"sorted query", plain, keyRequest("/a?b=1&a=2"), "GET /a?a=2&b=1", false, ""},
		{"repeated names keep their order", plain, keyRequest("/a?x=2&b=1&x=1"), "GET /a?b=1&x=2&x=1", false, ""},
		{"empty pairs dropped, empty values kept", plain, keyRequest("/a?a=1&&b"), "GET /a?a=1&b=", false, ""},
		{"re-escaped", plain, keyRequest("/a?q=hello+world&r=%41%2b"), "GET /a?q=hello+world&r=A%2B", false, ""},
		{"escaped slash kept apart", plain, keyRequest("/a%2Fb"), "GET /a%2Fb", false, ""},
		{"bypass parameter removed", plain, keyRequest("/a?nocache=true&z=1"), "GET /a?z=1", true, ""},
		{"bypass parameter empty", plain, keyRequest("/a?nocache"), "GET /a", true, ""},
		{"bypass parameter false", plain, keyRequest("/a?nocache=0"), "GET /a", false, ""},
		{"bypass off", &KeyRules{}, keyRequest("/a?nocache=1"), "GET /a?nocache=1", false, ""},
		{"semicolon", plain, keyRequest("/a?x=1;y=2"), "", false, WhyMalformedQuery},
		{"bad escape", plain, keyRequest("/a?%zz=1"), "", false, WhyMalformedQuery},
		{"vary absent", vary, keyRequest("http://shop/a"), "GET /a h:Accept-Language h:Authorization h:Host=shop", false, ""},
		{"vary empty", vary, keyRequest("http://shop/a", "Accept-Language", ""), "GET /a h:Accept-Language= h:Authorization h:Host=shop", false, ""},
		{"vary values", vary, keyRequest("http://shop/a", "Accept-Language", "en, fr", "Accept-Language", "de x"),
			"GET /a h:Accept-Language=en,fr,de+x h:Authorization h:Host=shop", false, ""},
		{"credentials hashed", vary, keyRequest("http://shop/a", "Authorization", "Bearer secret"),
			"GET /a h:Accept-Language h:Authorization=#", false, ""},
		{"key function", custom, keyRequest("/a?id=7&nocache=1"), "GET ~7+x", true, ""},
		{"empty key function result", custom, keyRequest("/a"), "", false, "key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kp := tc.m.requestKey(tc.r)
			if kp.why != tc.why || kp.bypass != tc.bypass {
				t.Fatalf("why %q bypass %v, want %q %v", kp.why, kp.bypass, tc.why, tc.bypass)
			}
			if strings.HasSuffix(tc.key, "=#") {
				if !strings.HasPrefix(kp.key, tc.key) || strings.Contains(kp.key, "secret") {
					t.Fatalf("key %q: credential not hashed", kp.key)
				}
				return
			}
			if kp.key != tc.key {
				t.Fatalf("key %q, want %q", kp.key, tc.key)
			}
		})
	}
	if got := string(AppendUser([]byte("GET /a"), "alice smith")); got != "GET /a u:alice+smith" {
		t.Fatalf("appendUser = %q", got)
	}
	if got := string(AppendUser([]byte("GET /a"), "")); got != "GET /a" {
		t.Fatalf("appendUser without a user = %q", got)
	}
}

// FuzzHTTPKey checks that the key is a faithful name of what the handler
// sees: equal keys for requests the handler cannot tell apart (the query
// in another order, the bypass parameter added), different keys for requests
// it can (another path, other parameters, another header value), and no
// space or control byte inside a part.
func FuzzHTTPKey(f *testing.F) {
	f.Add("/a", "b=1&a=2", "en", "/a", "a=2&b=1", "en")
	f.Add("/a b", "q=x+y", "", "/a%20b", "q=x%20y", "")
	f.Add("/", "nocache=1&x=", "fr", "/", "x", "fr")
	f.Add("/x", "a=1&a=2", "de", "/x", "a=2&a=1", "de")
	f.Add("/\x00", "%zz", "\n", "/%00", "a;b", " ")
	f.Add("/p", "k=v", "a,b", "/p", "k=v", "a%2Cb")
	m := keyRules(KeyRules{Vary: []string{"Accept-Language"}})
	type seen struct {
		path  string
		query url.Values
		lang  []string
	}
	build := func(path, query, lang string) (keyParts, *seen) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
		if lang != "-" {
			r.Header.Set("Accept-Language", lang)
		}
		kp := m.requestKey(r)
		q, err := url.ParseQuery(query)
		if err != nil || kp.why != "" {
			return kp, nil
		}
		q.Del("nocache")
		if len(q) == 0 {
			q = nil
		}
		escaped := r.URL.EscapedPath()
		if escaped == "" {
			escaped = "/" // the key, as a server does, reads an empty path as "/"
		}
		return kp, &seen{path: escaped, query: q, lang: r.Header.Values("Accept-Language")}
	}
	f.Fuzz(func(t *testing.T, p1, q1, l1, p2, q2, l2 string) {
		k1, s1 := build(p1, q1, l1)
		k2, s2 := build(p2, q2, l2)
		for _, k := range []keyParts{k1, k2} {
			if k.why != "" {
				continue
			}
			parts := strings.Split(k.key, " ")
			if len(parts) != 3 || parts[0] != "GET" || !strings.HasPrefix(parts[2], "h:Accept-Language") {
				t.Fatalf("key %q does not have its three parts", k.key)
			}
			if strings.IndexFunc(k.key, unicode.IsControl) >= 0 {
				t.Fatalf("key %q holds a control character", k.key)
			}
		}
		if s1 == nil || s2 == nil {
			return
		}
		same := reflect.DeepEqual(s1, s2)
		if same != (k1.key == k2.key) {
			t.Fatalf("requests the handler sees as %+v and %+v have keys %q and %q", s1, s2, k1.key, k2.key)
		}
	})
}
