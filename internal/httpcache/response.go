// Package httpcache is the HTTP side of cachefront's middleware: the request
// key, the stored response and its codec, what may be stored, the
// ResponseWriter that holds a handler's response while it may still be
// stored, and serving stored responses (hits, 304s).
package httpcache

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// Response is what Middleware stores: a complete response, encoded with
// msgpack like any Cache value. Its ETag, computed once when it was built,
// lives in Header, so every instance serves the same one.
//
// Only Status, Header, Body and Coding are stored. The other fields are derived once
// per entry, by newCachedResponse or decodeResponse, so that a hit only
// copies them. An entry is shared by concurrent requests and by the local
// tier: nothing may write to it once built. An entry decoded from Redis has
// no Header map (fields holds its header) and is never encoded again.
type Response struct {
	Status int         `msgpack:"s"`
	Header http.Header `msgpack:"h"`
	Body   []byte      `msgpack:"b"`
	// Coding is CodingZstd when the middleware compressed Body (see
	// Compress), "" otherwise.
	Coding string `msgpack:"c,omitempty"`
	// Sum is the CRC-32C of a compressed Body, checked when the entry is
	// read: a damaged body is a corrupt entry, never sent to a client.
	Sum uint32 `msgpack:"k,omitempty"`
	// InitialAge is the age in seconds the response had when it was
	// stored (RFC 9111 §4.2.3): the upstream's Age, or more if its Date
	// says so. A hit's Age adds the time since.
	InitialAge int64 `msgpack:"a,omitempty"`
	// OwnETag says that the ETag is the middleware's (StrongETag), not the
	// handler's: revalidation never sends it to the handler.
	OwnETag bool `msgpack:"g,omitempty"`
	// StaleWhileRevalidate and StaleIfError are the seconds past its
	// freshness the response may be served while it is revalidated, and
	// when revalidating it fails (RFC 5861).
	StaleWhileRevalidate int64 `msgpack:"w,omitempty"`
	StaleIfError         int64 `msgpack:"e,omitempty"`

	fields []headerField // the header, as a list
	nvals  int           // values in fields
	length string        // len(Body), for Content-Length
}

// headerField is one header field of a stored response.
type headerField struct {
	name   string
	values []string
}

// newCachedResponse returns a response to store, ready to be served.
func NewResponse(status int, h http.Header, body []byte) *Response {
	resp := &Response{Status: status, Header: h, Body: body, fields: make([]headerField, 0, len(h))}
	for k, v := range h {
		resp.fields = append(resp.fields, headerField{k, v})
		resp.nvals += len(v)
	}
	resp.length = strconv.Itoa(len(body))
	return resp
}

// TypeName names Response in entry headers. Change it when
// the struct changes incompatibly: older entries then read as foreign misses.
const TypeName = "cachefront.HTTPResponse/1"

// CompressedTypeName names Response in the entries of a middleware that
// compresses bodies, so that a middleware that does not (or a release that
// cannot) never reads them, and the other way round.
const CompressedTypeName = "cachefront.HTTPResponse/1+zstd"

// decodeResponse decodes a stored response from payload, the msgpack that
// encoding a Response produced. s holds the same bytes as payload, as
// a string that the result may alias: its header values and body are not
// copied. Entries in the form msgpack writes are read directly, anything
// else through msgpack, with msgpack's result.
func Decode(payload []byte, s string) (*Response, error) {
	resp, ok := readResponse(s)
	if !ok {
		var v Response
		if err := msgpack.Unmarshal(payload, &v); err != nil {
			return nil, err
		}
		resp = NewResponse(v.Status, v.Header, v.Body)
		resp.Coding, resp.Sum, resp.InitialAge, resp.OwnETag = v.Coding, v.Sum, v.InitialAge, v.OwnETag
		resp.StaleWhileRevalidate, resp.StaleIfError = v.StaleWhileRevalidate, v.StaleIfError
	}
	return resp, resp.checkBody()
}

// payloadString returns p as a string without copying it when p lies within
// raw, the Redis reply it was sliced from (entry.DecodeString aliases it),
// and as a copy otherwise.
func PayloadString(p []byte, raw string) string {
	if len(p) == 0 || len(p) > len(raw) {
		return string(p)
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(raw)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	if start < base || start-base > uintptr(len(raw)-len(p)) {
		return string(p)
	}
	off := int(start - base)
	return raw[off : off+len(p)]
}

// readResponse reads the msgpack map that encoding a Response writes
// ({"s": int, "h": map of string to array of string or nil, "b": bin or
// nil}, each key at most once) from s, aliasing s. ok is false for anything
// else, which decodeResponse leaves to msgpack.
func readResponse(s string) (resp *Response, ok bool) {
	d := msgpackReader{s: s}
	n, isNil := d.mapLen()
	if isNil || d.bad {
		return nil, false
	}
	dr := new(decodedResponse)
	resp = &dr.Response
	var seen [9]bool
	for range n {
		switch key := d.str(); {
		case d.bad:
			return nil, false
		case key == "s" && !seen[0]:
			seen[0] = true
			resp.Status = int(d.int())
		case key == "h" && !seen[1]:
			seen[1] = true
			d.header(dr)
		case key == "b" && !seen[2]:
			seen[2] = true
			if b, isNil := d.bin(); !isNil {
				resp.Body = unsafe.Slice(unsafe.StringData(b), len(b))
				if resp.Body == nil {
					resp.Body = []byte{}
				}
			}
		case key == "c" && !seen[3]:
			seen[3] = true
			resp.Coding = d.str()
		case key == "k" && !seen[4]:
			seen[4] = true
			resp.Sum = uint32(d.int())
		case key == "a" && !seen[5]:
			seen[5] = true
			resp.InitialAge = d.int()
		case key == "g" && !seen[6]:
			seen[6] = true
			resp.OwnETag = d.bool()
		case key == "w" && !seen[7]:
			seen[7] = true
			resp.StaleWhileRevalidate = d.int()
		case key == "e" && !seen[8]:
			seen[8] = true
			resp.StaleIfError = d.int()
		default:
			return nil, false
		}
	}
	if d.bad || d.i != len(s) {
		return nil, false
	}
	resp.length = BytesString(strconv.AppendInt(dr.length[:0], int64(len(resp.Body)), 10))
	return resp, true
}

// decodedResponse is a response read from Redis with room for a typical
// header and its Content-Length, so that reading one takes one allocation.
type decodedResponse struct {
	Response
	fields [8]headerField
	vals   [8]string
	length [20]byte
}

// msgpackReader reads the few msgpack types of a stored response from a
// string. It sets bad, and returns zero values, on anything it does not
// expect or that runs past the end.
type msgpackReader struct {
	s   string
	i   int
	bad bool
}

func (d *msgpackReader) next() byte {
	if d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	c := d.s[d.i]
	d.i++
	return c
}

// uint reads an n-byte big-endian unsigned integer.
func (d *msgpackReader) uint(n int) uint64 {
	if len(d.s)-d.i < n {
		d.bad = true
		return 0
	}
	var v uint64
	for _, c := range []byte(d.s[d.i : d.i+n]) {
		v = v<<8 | uint64(c)
	}
	d.i += n
	return v
}

// length reads the n-byte length of a string, bin, array or map of items
// of at least one byte each, checking that they can fit in what is left.
func (d *msgpackReader) length(n int) int {
	l := d.uint(n)
	if l > uint64(len(d.s)-d.i) {
		d.bad = true
		return 0
	}
	return int(l)
}

func (d *msgpackReader) bytes(n int) string {
	if d.bad {
		return ""
	}
	b := d.s[d.i : d.i+n]
	d.i += n
	return b
}

func (d *msgpackReader) mapLen() (n int, isNil bool) { return d.containerLen(0x80, 0xde, 0xdf) }

func (d *msgpackReader) arrayLen() (n int, isNil bool) { return d.containerLen(0x90, 0xdc, 0xdd) }

// containerLen reads the length of a map or an array: fix is its fixmap or
// fixarray prefix (the length in the low four bits), len16 and len32 the
// codes followed by a 2- or 4-byte length.
func (d *msgpackReader) containerLen(fix, len16, len32 byte) (n int, isNil bool) {
	switch c := d.next(); {
	case c&0xf0 == fix:
		return int(c & 0x0f), false
	case c == len16:
		return d.length(2), false
	case c == len32:
		return d.length(4), false
	case c == 0xc0:
		return 0, true
	}
	d.bad = true
	return 0, false
}

func (d *msgpackReader) str() string {
	switch c := d.next(); {
	case c >= 0xa0 && c <= 0xbf:
		n := int(c & 0x1f)
		if n > len(d.s)-d.i {
			d.bad = true
			return ""
		}
		return d.bytes(n)
	case c == 0xd9:
		return d.bytes(d.length(1))
	case c == 0xda:
		return d.bytes(d.length(2))
	case c == 0xdb:
		return d.bytes(d.length(4))
	}
	d.bad = true
	return ""
}

func (d *msgpackReader) bin() (b string, isNil bool) {
	switch d.next() {
	case 0xc4:
		return d.bytes(d.length(1)), false
	case 0xc5:
		return d.bytes(d.length(2)), false
	case 0xc6:
		return d.bytes(d.length(4)), false
	case 0xc0:
		return "", true
	}
	d.bad = true
	return "", false
}

// bool reads a boolean.
func (d *msgpackReader) bool() bool {
	switch d.next() {
	case 0xc2:
		return false
	case 0xc3:
		return true
	}
	d.bad = true
	return false
}

// int reads an integer that fits an int64.
func (d *msgpackReader) int() int64 {
	switch c := d.next(); {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	case c == 0xcc:
		return int64(d.uint(1))
	case c == 0xcd:
		return int64(d.uint(2))
	case c == 0xce:
		return int64(d.uint(4))
	case c == 0xcf:
		v := d.uint(8)
		if v > math.MaxInt64 {
			d.bad = true
		}
		return int64(v)
	case c == 0xd0:
		return int64(int8(d.uint(1)))
	case c == 0xd1:
		return int64(int16(d.uint(2)))
	case c == 0xd2:
		return int64(int32(d.uint(4)))
	case c == 0xd3:
		return int64(d.uint(8))
	}
	d.bad = true
	return 0
}

// header reads a stored header into dr's fields (a nil map: none).
func (d *msgpackReader) header(dr *decodedResponse) {
	n, isNil := d.mapLen()
	if isNil || d.bad {
		return
	}
	resp := &dr.Response
	resp.fields = dr.fields[:0]
	if n > len(dr.fields) {
		resp.fields = make([]headerField, 0, n)
	}
	vals := dr.vals[:0]
	for range n {
		name := d.str()
		m, isNil := d.arrayLen()
		if d.bad {
			return
		}
		if isNil {
			resp.fields = append(resp.fields, headerField{name: name})
			continue
		}
		start := len(vals)
		for range m {
			vals = append(vals, d.str())
		}
		// A full slice expression: fields never share spare capacity.
		resp.fields = append(resp.fields, headerField{name, vals[start:len(vals):len(vals)]})
		resp.nvals += m
	}
}

// storedHeader is the part of a handler's header that belongs to the stored
// response: not hop-by-hop fields, not fields the middleware or the server
// set per response, and not fields that middleware outside the cache had
// already set (identical in initial), which it sets again on every request.
func StoredHeader(h, initial http.Header) http.Header {
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
		"Age", "Content-Length", "X-Cache", "Set-Cookie":
		return true
	}
	return strings.HasPrefix(k, http.TrailerPrefix)
}

// strongETag returns a strong entity tag for a representation: a hash of its
// status, the header fields that identify the representation, and its body.
func StrongETag(status int, h http.Header, body []byte) string {
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

// HitInfo is what a response served from the cache says about itself.
type HitInfo struct {
	// Hit: X-Cache HIT, a Cache-Status with the entry's ttl, and Age. Not
	// Hit: a MISS answered with the response of another request's handler
	// call, whose Cache-Status fwd is Fwd.
	Hit        bool
	Fwd        string
	Led        bool   // a MISS answered by its own handler call, not another's
	Detail     string // why a stale response was served (a hit's detail)
	FreshUntil int64  // entry times, Unix ms; Created 0 for no Age
	Created    int64
	Now        int64 // Unix ms
}

// hitHeader holds the header values of one response served from the cache:
// one allocation per response, of its own, so that nothing done to that
// response's header (by middleware outside the cache) can reach the entry,
// which other requests share. vals fits a typical stored header and the four
// fields serveStored adds; text holds the numbers it formats.
type hitHeader struct {
	vals [12]string
	text [64]byte
}

// Serve answers r with resp, leaving the headers that middleware outside
// the cache set on w alone. It writes nothing and returns an error when
// resp's body is compressed, r does not take zstd, and the body does not
// decompress (the entry is corrupt).
func Serve(w http.ResponseWriter, r *http.Request, resp *Response, info HitInfo) error {
	rep, err := resp.representationFor(r)
	if err != nil {
		return err
	}
	hh := new(hitHeader)
	vals := hh.vals[:]
	if n := resp.nvals + 6; n > len(vals) {
		vals = make([]string, n)
	}
	h := w.Header()
	for _, f := range resp.fields {
		if len(f.values) == 0 {
			h[f.name] = f.values
			continue
		}
		n := copy(vals, f.values)
		h[f.name], vals = vals[:n:n], vals[n:]
	}
	text := hh.text[:0]
	var cacheStatus, age string
	if info.Hit {
		text = append(text, "cachefront; hit; ttl="...)
		text = strconv.AppendInt(text, floorDiv(info.FreshUntil-info.Now, 1000), 10) // negative when stale
		if info.Detail != "" {
			text = append(text, "; detail="...)
			text = append(text, info.Detail...)
		}
		cacheStatus = BytesString(text)
		if info.Created > 0 {
			text = text[len(text):]
			text = strconv.AppendInt(text, resp.InitialAge+max(info.Now-info.Created, 0)/1000, 10)
			age = BytesString(text)
		}
	} else {
		text = append(text, "cachefront; fwd="...)
		text = append(text, info.Fwd...)
		if !info.Led {
			text = append(text, "; collapsed"...)
		}
		cacheStatus = BytesString(text)
	}
	vals[0], vals[1], vals[2], vals[3] = "HIT", cacheStatus, age, rep.length
	if !info.Hit {
		vals[0] = "MISS"
	}
	h["X-Cache"] = vals[0:1:1]
	if upstream := h["Cache-Status"]; len(upstream) > 0 {
		// RFC 9211: each cache appends its member after those of the
		// caches nearer the origin.
		h["Cache-Status"] = append(slices.Clip(upstream), cacheStatus)
	} else {
		h["Cache-Status"] = vals[1:2:2]
	}
	if age != "" {
		h["Age"] = vals[2:3:3]
	}
	if BodyAllowedForStatus(resp.Status) {
		h["Content-Length"] = vals[3:4:4]
	}
	if rep.coded {
		vals[4] = CodingZstd
		h["Content-Encoding"] = vals[4:5:5]
		if etag := h["Etag"]; len(etag) == 1 {
			vals[5] = weakETag(etag[0])
			h["Etag"] = vals[5:6:6]
		}
	}
	WriteComplete(w, r, resp.Status, rep.body)
	return nil
}

// floorDiv is a / b rounded down.
func floorDiv(a, b int64) int64 {
	if a < 0 {
		return -((-a + b - 1) / b)
	}
	return a / b
}

// bytesString returns b as a string without copying it; nothing may write
// to b afterwards (serveStored formats into memory it never writes again).
func BytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// writeComplete sends a complete response whose header, with its
// Content-Length when the status has a body, is already in w.Header():
// 304 Not Modified when the request's conditions say so (notModified), the
// full response (without its body for HEAD) otherwise.
func WriteComplete(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if h := w.Header(); notModified(r, h, status) {
		// RFC 9110 §15.4.5: a 304 carries the validators and caching
		// fields, not the representation's metadata.
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language"} {
			delete(h, k)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && len(body) > 0 && BodyAllowedForStatus(status) {
		_, _ = w.Write(body)
	}
}

// notModified reports whether r's conditions make its answer from a
// response with status and header h a 304 (RFC 9110 §13.2.2): If-None-Match
// when present, else If-Modified-Since, for GET and HEAD on a 2xx.
func notModified(r *http.Request, h http.Header, status int) bool {
	if status < 200 || status >= 300 {
		return false
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		return noneMatchFails(inm, h.Get("Etag"))
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false // an invalid date is ignored
	}
	modified, err := http.ParseTime(h.Get("Last-Modified"))
	return err == nil && !modified.After(since)
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
	s = strings.TrimPrefix(s, "W/")
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
func BodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// Policy is what a route lets its middleware store.
type Policy struct {
	Statuses []int // cacheable statuses
}

// ResponseVary returns the request headers a response with header h varies
// on, in canonical form ("*" as it is), leaving out the Vary values that
// middleware outside the cache had set (in initial), which are not the
// handler's.
func ResponseVary(h, initial http.Header) []string {
	var names []string
	for _, v := range h["Vary"] {
		if slices.Contains(initial["Vary"], v) {
			continue
		}
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" && name != "*" {
				name = http.CanonicalHeaderKey(name)
			}
			if name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// Unstorable returns why a response with this status and header may not be
// stored, or "" when it may. initial holds what middleware outside the cache
// had set before the handler ran: it sets that again on every response, so
// its cookies and Vary values are not the handler's. userKeyed routes are
// private caches, where Cache-Control: private is allowed.
func (p *Policy) Unstorable(status int, h, initial http.Header, userKeyed bool) string {
	if !slices.Contains(p.Statuses, status) {
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
	if slices.Contains(ResponseVary(h, initial), "*") {
		return "vary"
	}
	if _, ok := h["Trailer"]; ok {
		return "trailer"
	}
	return ""
}
