package httpcache

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestAcceptsCoding(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   bool
	}{
		{nil, false},
		{[]string{"zstd"}, true},
		{[]string{"gzip, deflate, br, zstd"}, true},
		{[]string{"gzip", "ZStd;q=0.1"}, true},
		{[]string{"zstd;q=0"}, false},
		{[]string{"zstd; q=0.000"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"zstd;q=0, *"}, false},
		{[]string{"*, zstd;q=0"}, false},
		{[]string{"gzip, br"}, false},
		{[]string{"zstd;q=2"}, false}, // a malformed weight counts as zero
		{[]string{"identity"}, false},
	} {
		if got := AcceptsCoding(tc.fields, CodingZstd); got != tc.want {
			t.Errorf("AcceptsCoding(%q) = %v, want %v", tc.fields, got, tc.want)
		}
	}
}

func TestCompressible(t *testing.T) {
	for ctype, want := range map[string]bool{
		"text/html; charset=utf-8":       true,
		"application/json":               true,
		"application/problem+json":       true,
		"application/atom+xml":           true,
		"image/svg+xml":                  true,
		"image/png":                      false,
		"application/zip":                false,
		"application/octet-stream":       false,
		"":                               false,
		"not a media type; ; ;":          false,
		"APPLICATION/JSON; charset=utf8": true,
	} {
		h := http.Header{"Content-Type": {ctype}}
		if got := compressible(200, h); got != want {
			t.Errorf("compressible(%q) = %v, want %v", ctype, got, want)
		}
	}
	json := http.Header{"Content-Type": {"application/json"}}
	if compressible(204, json) || compressible(304, json) {
		t.Error("a status without a body is compressible")
	}
	if compressible(200, http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"br"}}) {
		t.Error("an encoded body is compressible")
	}
}

// A compressed stored response survives both decoders, and a damaged body
// is an error from either.
func TestStoredResponseRoundTrip(t *testing.T) {
	body := []byte(strings.Repeat(`{"k":"v"},`, 200))
	h := http.Header{"Content-Type": {"application/json"}, "Vary": {"Origin"}}
	resp := NewStoredResponse(200, h, body, 0)
	if resp.Coding != CodingZstd || len(resp.Body) >= len(body)/4 {
		t.Fatalf("coding %q, %d bytes of %d", resp.Coding, len(resp.Body), len(body))
	}
	if got := resp.Header.Values("Vary"); len(got) != 2 || got[1] != "Accept-Encoding" {
		t.Fatalf("Vary %q", got)
	}
	if resp.Saved() != len(body)-len(resp.Body) {
		t.Fatalf("Saved = %d", resp.Saved())
	}
	payload, err := msgpack.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := Decode(payload, string(payload))
	if err != nil || fast.Coding != CodingZstd || fast.Sum != resp.Sum || string(fast.Body) != string(resp.Body) {
		t.Fatalf("fast decoder: %+v, %v", fast, err)
	}
	if _, ok := readResponse(string(payload)); !ok {
		t.Fatal("the fast decoder did not read the compressed response")
	}
	// Keys in another order go through msgpack.
	other, _ := msgpack.Marshal(map[string]any{"k": resp.Sum, "c": resp.Coding, "b": resp.Body, "h": resp.Header, "s": 200})
	slow, err := Decode(other, string(other))
	if err != nil || slow.Coding != CodingZstd || string(slow.Body) != string(resp.Body) {
		t.Fatalf("msgpack decoder: %+v, %v", slow, err)
	}
	damaged := []byte(string(payload))
	damaged[len(damaged)-20] ^= 0x04
	if _, err := Decode(damaged, string(damaged)); !errors.Is(err, errBadBody) {
		t.Fatalf("damaged body: %v", err)
	}
	plain := NewStoredResponse(200, http.Header{"Content-Type": {"application/json"}}, body, -1)
	if plain.Coding != "" || string(plain.Body) != string(body) {
		t.Fatal("compressed with compression off")
	}
}
