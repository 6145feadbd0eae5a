package httpcache

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// headerOf returns a decoded response's header as a map, the last of
// repeated names winning as it does when the response is served.
func headerOf(resp *Response) http.Header {
	h := http.Header{}
	for _, f := range resp.fields {
		h[f.name] = f.values
	}
	return h
}

// sameResponse reports whether got, decoded for serving, is want.
func sameResponse(got *Response, want Response) bool {
	wantHeader := want.Header
	if wantHeader == nil {
		wantHeader = http.Header{}
	}
	nvals := 0
	for _, f := range got.fields {
		nvals += len(f.values)
	}
	return got.Status == want.Status && bytes.Equal(got.Body, want.Body) && (got.Body == nil) == (want.Body == nil) &&
		reflect.DeepEqual(headerOf(got), wantHeader) && got.nvals == nvals &&
		got.length == NewResponse(0, nil, want.Body).length
}

func TestDecodeResponse(t *testing.T) {
	cases := []Response{
		{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}, "Etag": {`"x"`}}, Body: []byte("hello")},
		{Status: 404},
		{Status: 599, Header: http.Header{"A": nil, "B": {}, "C": {"1", "2", ""}}, Body: []byte{}},
		{Status: 200, Header: http.Header{"Long": {strings.Repeat("v", 70_000)}}, Body: bytes.Repeat([]byte{0}, 70_000)},
		{Status: 1 << 40},
		{Status: -1},
	}
	many := http.Header{}
	for i := range 40 {
		many[strings.Repeat("k", i+1)] = []string{strings.Repeat("v", i)}
	}
	cases = append(cases, Response{Status: 200, Header: many, Body: []byte("b")})
	for _, want := range cases {
		payload, err := msgpack.Marshal(&want)
		if err != nil {
			t.Fatal(err)
		}
		raw := "entry header:" + string(payload)
		s := PayloadString(unsafeBytes(raw)[13:], raw)
		got, ok := readResponse(s)
		if !ok {
			t.Fatalf("status %d: msgpack's encoding was not read directly", want.Status)
		}
		if !sameResponse(got, want) {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}
	}
}

// What the direct reader does not expect is decoded by msgpack.
func TestDecodeResponseFallsBackToMsgpack(t *testing.T) {
	for _, payload := range [][]byte{
		{0x82, 0xa1, 's', 0xcc, 200, 0xa1, 'b', 0xa2, 'h', 'i'}, // a body as a string
		{0x82, 0xa1, 's', 0xcc, 200, 0xa1, 'x', 0x01},           // a field it does not know
		{0xc0}, // nil
	} {
		if _, ok := readResponse(string(payload)); ok {
			t.Fatalf("% x: read directly", payload)
		}
		want, err := decodeMsgpack(payload)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(payload, string(payload))
		if err != nil || !sameResponse(got, want) {
			t.Fatalf("% x: decoded %+v, %v; want %+v", payload, got, err, want)
		}
	}
	if _, err := Decode([]byte{0x81, 0xa1}, "\x81\xa1"); err == nil {
		t.Fatal("a truncated payload decoded")
	}
}

// A payload sliced from the Redis reply is aliased, not copied; any other is
// copied.
func TestPayloadString(t *testing.T) {
	raw := strings.Repeat("x", 10) + "payload"
	in := unsafeBytes(raw)[10:]
	if s := PayloadString(in, raw); s != "payload" || &unsafeBytes(s)[0] != &in[0] {
		t.Fatalf("payloadString copied a payload within the reply")
	}
	other := []byte("payload")
	if s := PayloadString(other, raw); s != "payload" || &unsafeBytes(s)[0] == &other[0] {
		t.Fatalf("payloadString aliased bytes outside the reply")
	}
	if s := PayloadString(other, "short"); s != "payload" {
		t.Fatalf("payloadString = %q", s)
	}
}

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// FuzzDecodeResponse checks the direct reader against msgpack: what it
// reads, msgpack decodes the same (anything else goes to msgpack itself),
// and it never panics.
func FuzzDecodeResponse(f *testing.F) {
	for _, resp := range []Response{
		{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}, "Etag": {`"x"`}}, Body: []byte("hello")},
		{Status: 301, Header: http.Header{"Location": {"/a"}, "Vary": nil}},
		{},
	} {
		b, _ := msgpack.Marshal(&resp)
		f.Add(b)
	}
	f.Add([]byte{0x83, 0xa1, 's', 0xcc, 200, 0xa1, 'h', 0xc0, 0xa1, 'b', 0xc4, 1, 'x'})
	f.Add([]byte{0x81, 0xa1, 's', 0xcb, 0x40, 0x69, 0, 0, 0, 0, 0, 0}) // a float status
	f.Add([]byte{0x82, 0xa1, 's', 0x01, 0xa1, 's', 0x02})              // a repeated key
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, ok := readResponse(string(payload))
		if !ok {
			return // decodeResponse hands it to msgpack
		}
		want, err := decodeMsgpack(payload)
		if err != nil {
			t.Fatalf("read %+v where msgpack fails: %v", got, err)
		}
		if !sameResponse(got, want) {
			t.Fatalf("read %+v, msgpack decodes %+v", got, want)
		}
	})
}

// The middleware's entries are still those msgpack writes: readResponse is
// only a faster reader of them.
func TestStoredResponseEncoding(t *testing.T) {
	resp := NewResponse(200, http.Header{"Etag": {`"e"`}}, []byte("b"))
	b, err := msgpack.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var back Response
	if err := msgpack.Unmarshal(b, &back); err != nil || back.Status != 200 || back.Header.Get("Etag") != `"e"` || string(back.Body) != "b" {
		t.Fatalf("%+v, %v", back, err)
	}
}

func decodeMsgpack(payload []byte) (Response, error) {
	var v Response
	err := msgpack.Unmarshal(payload, &v)
	return v, err
}
