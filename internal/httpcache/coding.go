package httpcache

import (
	"errors"
	"fmt"
	"hash/crc32"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cachefront/cachefront/internal/compress"
)

// The middleware stores a compressible body zstd-compressed (RFC 8878, a
// registered content coding) when compression is on. A client whose
// Accept-Encoding takes zstd gets the stored bytes as they are, with
// Content-Encoding: zstd and the ETag made weak (the strong one names the
// identity body); any other client gets the body decompressed. Either way
// the response says Vary: Accept-Encoding, so that caches further down the
// line keep the two apart. A body the origin had encoded already is stored
// as it came.

// CodingZstd is the content coding of a compressed stored body.
const CodingZstd = "zstd"

// NewStoredResponse returns the response to store for a complete response:
// as NewResponse, with its body zstd-compressed when the response is
// compressible, the body is at least minLen bytes long (minLen negative
// for never) and compression makes it smaller. Compressing adds
// Vary: Accept-Encoding to h, which the response keeps.
func NewStoredResponse(status int, h http.Header, body []byte, minLen int) *Response {
	if minLen >= 0 && compressible(status, h) {
		if z, ok := compress.Compress(nil, body, compress.Zstd, minLen); ok {
			AddVary(h, "Accept-Encoding")
			resp := NewResponse(status, h, z)
			resp.Coding, resp.Sum = CodingZstd, crc32.Checksum(z, castagnoli)
			return resp
		}
	}
	return NewResponse(status, h, body)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadBody reports a stored body that is not what its entry says.
var errBadBody = errors.New("httpcache: stored body damaged")

// checkBody verifies a compressed body against its checksum.
func (resp *Response) checkBody() error {
	switch resp.Coding {
	case "":
		return nil
	case CodingZstd:
		if crc32.Checksum(resp.Body, castagnoli) != resp.Sum {
			return fmt.Errorf("%w: checksum mismatch", errBadBody)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown coding %q", errBadBody, resp.Coding)
}

// AddVary adds name to h's Vary unless it, or "*", is there already.
func AddVary(h http.Header, name string) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, name) {
				return
			}
		}
	}
	h.Add("Vary", name)
}

// compressible reports whether a response with status and header h is worth
// compressing: it has a body, no content coding of its own, and a textual
// media type (compressed images, video and archives gain nothing).
func compressible(status int, h http.Header) bool {
	if !BodyAllowedForStatus(status) {
		return false
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/ecmascript",
		"application/x-javascript", "application/wasm", "application/x-ndjson", "image/svg+xml",
		"application/graphql-response+json", "application/manifest+json":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

// AcceptsCoding reports whether a request with Accept-Encoding fields
// takes content coding (RFC 9110 §12.5.3): named with a non-zero weight,
// or covered by "*" with one and not named with weight zero.
func AcceptsCoding(fields []string, coding string) bool {
	star := false
	for _, v := range fields {
		for _, item := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			q := qValue(params)
			switch {
			case strings.EqualFold(name, coding):
				return q > 0
			case name == "*":
				star = q > 0
			}
		}
	}
	return star
}

// qValue returns the weight in the parameters of an Accept-Encoding item
// (1 when absent, 0 when malformed).
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// representation is what a stored response sends one request: the body,
// its Content-Length, and whether it goes zstd-coded.
type representation struct {
	body   []byte
	length string
	coded  bool
}

// representationFor picks the body resp sends r: the stored bytes, or for
// a compressed body and a client that does not take zstd, their
// decompression. It fails only on a compressed body that does not
// decompress.
func (resp *Response) representationFor(r *http.Request) (representation, error) {
	rep := representation{body: resp.Body, length: resp.length}
	if resp.Coding == "" {
		return rep, nil
	}
	if AcceptsCoding(r.Header["Accept-Encoding"], CodingZstd) {
		rep.coded = true
		return rep, nil
	}
	plain, err := compress.Decompress(nil, resp.Body, compress.Zstd)
	if err != nil {
		return rep, err
	}
	rep.body, rep.length = plain, strconv.Itoa(len(plain))
	return rep, nil
}

// Saved returns how many bytes storing the body compressed saved (0 for an
// uncompressed body).
func (resp *Response) Saved() int {
	if resp.Coding == "" {
		return 0
	}
	n, err := compress.DecodedLen(resp.Body, compress.Zstd)
	if err != nil || n < len(resp.Body) {
		return 0
	}
	return n - len(resp.Body)
}

// weakETag returns etag as a weak entity tag.
func weakETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, "W/") {
		return etag
	}
	return "W/" + etag
}

// Validators returns the conditional request fields that revalidate resp
// (RFC 9111 §4.3.1): If-None-Match with the handler's ETag, If-Modified-Since
// with its Last-Modified. ok is false when it has neither.
func (resp *Response) Validators() (h http.Header, ok bool) {
	h = http.Header{}
	for _, f := range resp.fields {
		switch {
		case f.name == "Etag" && !resp.OwnETag && len(f.values) > 0:
			h["If-None-Match"] = f.values[:1:1]
		case f.name == "Last-Modified" && len(f.values) > 0:
			h["If-Modified-Since"] = f.values[:1:1]
		}
	}
	return h, len(h) > 0
}

// Revalidated returns the stored response resp freshened by a 304 whose
// storable header is nm (RFC 9111 §3.2, §4.3.4): the 304's fields replace
// the stored ones, except Content-Length, and the body stays.
func (resp *Response) Revalidated(nm http.Header) *Response {
	h := make(http.Header, len(resp.fields)+len(nm))
	for _, f := range resp.fields {
		h[f.name] = slices.Clip(f.values) // AddVary must not write into the entry
	}
	for k, v := range nm {
		if k != "Content-Length" {
			h[k] = v
		}
	}
	if resp.Coding != "" {
		AddVary(h, "Accept-Encoding")
	}
	out := NewResponse(resp.Status, h, resp.Body)
	out.Coding, out.Sum, out.OwnETag = resp.Coding, resp.Sum, resp.OwnETag && nm.Get("Etag") == ""
	return out
}
