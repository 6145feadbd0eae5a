package httpcache

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeWriter records what reaches the client.
type fakeWriter struct {
	h        http.Header
	codes    []int
	body     bytes.Buffer
	flushes  int
	writeErr error
}

func newFakeWriter() *fakeWriter { return &fakeWriter{h: http.Header{}} }

func (f *fakeWriter) Header() http.Header { return f.h }
func (f *fakeWriter) WriteHeader(c int)   { f.codes = append(f.codes, c) }
func (f *fakeWriter) Write(p []byte) (int, error) {
	if len(f.codes) == 0 {
		f.codes = append(f.codes, 200)
	}
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	return f.body.Write(p)
}
func (f *fakeWriter) Flush() { f.flushes++ }

type hijackable struct{ *fakeWriter }

func (hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c1, c2 := net.Pipe()
	_ = c2.Close()
	return c1, nil, nil
}

type pushable struct{ *fakeWriter }

func (pushable) Push(string, *http.PushOptions) error { return nil }

type both struct{ *fakeWriter }

func (both) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errors.New("no") }
func (both) Push(string, *http.PushOptions) error         { return nil }

// unwrapper is a third-party wrapper that only offers Unwrap.
type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

type deadlined struct{ *fakeWriter }

func (deadlined) SetWriteDeadline(time.Time) error { return nil }

func testTee(w http.ResponseWriter, limit int64) *Tee {
	p := &Policy{Statuses: []int{http.StatusOK}}
	t := NewTee(w, httptest.NewRequest("GET", "/", nil), limit)
	t.CacheStatus = "cachefront; fwd=uri-miss"
	t.Unstorable = func(status int, h, initial http.Header) string { return p.Unstorable(status, h, initial, false) }
	return t
}

func TestTeeHoldsACompleteResponse(t *testing.T) {
	f := newFakeWriter()
	tee := testTee(f, 100)
	tee.Header().Set("X-Answer", "42")
	io.WriteString(tee, "<html>hello</html>")
	if len(f.codes) != 0 || f.body.Len() != 0 || len(f.h) != 0 {
		t.Fatalf("the response reached the client before the handler returned: %v %q %v", f.codes, f.body.String(), f.h)
	}
	resp := tee.Finish()
	if resp == nil || resp.Status != 200 || string(resp.Body) != "<html>hello</html>" {
		t.Fatalf("stored %+v", resp)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" || f.h.Get("Content-Type") != ct {
		t.Fatalf("sniffed Content-Type not stored and sent: %q, %q", ct, f.h.Get("Content-Type"))
	}
	if e := resp.Header.Get("Etag"); e == "" || f.h.Get("Etag") != e {
		t.Fatalf("ETag %q stored, %q sent", e, f.h.Get("Etag"))
	}
	if f.h.Get("Content-Length") != "18" || f.h.Get("X-Cache") != "MISS" || f.h.Get("X-Answer") != "42" || f.body.String() != "<html>hello</html>" {
		t.Fatalf("sent %v %q", f.h, f.body.String())
	}
	if _, ok := resp.Header["X-Cache"]; ok {
		t.Fatal("X-Cache stored in the entry")
	}
}

func TestTeeFlushStreamsAndStillStores(t *testing.T) {
	f := newFakeWriter()
	tee := testTee(f, 100)
	io.WriteString(tee, "a")
	if err := http.NewResponseController(tee).Flush(); err != nil {
		t.Fatal(err)
	}
	if len(f.codes) != 1 || f.body.String() != "a" || f.flushes != 1 || f.h.Get("X-Cache") != "MISS" {
		t.Fatalf("flush did not send the response so far: %v %q %d", f.codes, f.body.String(), f.flushes)
	}
	io.WriteString(tee, "b")
	if f.body.String() != "ab" {
		t.Fatalf("a write after a flush was held: %q", f.body.String())
	}
	resp := tee.Finish()
	if resp == nil || string(resp.Body) != "ab" || resp.Header.Get("Etag") == "" {
		t.Fatalf("a complete streamed response was not kept: %+v", resp)
	}
	if len(f.codes) != 1 {
		t.Fatalf("status sent %d times", len(f.codes))
	}
}

func TestTeeOverTheCapStreamsUnbuffered(t *testing.T) {
	f := newFakeWriter()
	tee := testTee(f, 4)
	io.WriteString(tee, "ab")
	if f.body.Len() != 0 {
		t.Fatal("sent before the cap")
	}
	io.WriteString(tee, "cde")
	if f.body.String() != "abcde" || tee.buf != nil || tee.Reason() != "size" {
		t.Fatalf("past the cap: sent %q, kept %q, reason %q", f.body.String(), tee.buf, tee.Reason())
	}
	io.WriteString(tee, strings.Repeat("f", 100))
	if tee.buf != nil || f.body.Len() != 105 {
		t.Fatalf("kept %d bytes past the cap; sent %d", len(tee.buf), f.body.Len())
	}
	if tee.Finish() != nil {
		t.Fatal("an over-cap response is storable")
	}
}

func TestTeeUnstorableResponsesStreamAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(h http.Header)
		code int
		why  string
	}{
		{"status", nil, 500, "status"},
		{"cookie", func(h http.Header) { h.Add("Set-Cookie", "a=b") }, 200, "set-cookie"},
		{"no-store", func(h http.Header) { h.Set("Cache-Control", "no-store") }, 200, "no-store"},
		{"private", func(h http.Header) { h.Set("Cache-Control", "public, private") }, 200, "private"},
		{"vary", func(h http.Header) { h.Set("Vary", "Accept-Encoding, *") }, 200, "vary"},
		{"trailer", func(h http.Header) { h.Set("Trailer", "X-Sum") }, 200, "trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWriter()
			tee := testTee(f, 100)
			if tc.set != nil {
				tc.set(tee.Header())
			}
			tee.WriteHeader(tc.code)
			if len(f.codes) != 1 || f.codes[0] != tc.code {
				t.Fatalf("status not sent at once: %v", f.codes)
			}
			io.WriteString(tee, "x")
			if f.body.String() != "x" || tee.Reason() != tc.why {
				t.Fatalf("sent %q, reason %q", f.body.String(), tee.Reason())
			}
			if tee.Finish() != nil {
				t.Fatal("stored")
			}
		})
	}
}

func TestTeeIgnoresWhatOuterMiddlewareSet(t *testing.T) {
	f := newFakeWriter()
	f.h.Add("Set-Cookie", "visitor=1")
	f.h.Set("Vary", "Origin")
	f.h.Set("X-Request-Id", "7")
	tee := testTee(f, 100)
	tee.Header().Add("Vary", "*")
	io.WriteString(tee, "x")
	if tee.Finish() != nil || tee.Reason() != "vary" {
		t.Fatalf("reason %q", tee.Reason())
	}

	f = newFakeWriter()
	f.h.Add("Set-Cookie", "visitor=1")
	f.h.Set("Vary", "Origin")
	f.h.Set("X-Request-Id", "7")
	tee = testTee(f, 100)
	tee.Header().Set("Content-Type", "text/plain")
	io.WriteString(tee, "x")
	resp := tee.Finish()
	if resp == nil {
		t.Fatalf("not storable because of outer headers: %q", tee.Reason())
	}
	for _, k := range []string{"Set-Cookie", "Vary", "X-Request-Id"} {
		if _, ok := resp.Header[k]; ok {
			t.Fatalf("outer %s stored", k)
		}
		if f.h.Get(k) == "" {
			t.Fatalf("outer %s not sent", k)
		}
	}
}

func TestTeeInformationalAndBodylessStatuses(t *testing.T) {
	f := newFakeWriter()
	tee := testTee(f, 100)
	tee.Header().Set("Link", "</a.css>; rel=preload")
	tee.WriteHeader(http.StatusEarlyHints)
	if len(f.codes) != 1 || f.codes[0] != 103 || f.h.Get("Link") == "" {
		t.Fatalf("103 not sent at once: %v %v", f.codes, f.h)
	}
	tee.WriteHeader(http.StatusNoContent)
	if _, err := tee.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
		t.Fatalf("body on a 204: %v", err)
	}
	tee.WriteHeader(http.StatusOK) // superfluous: ignored
	if resp := tee.Finish(); resp != nil || f.codes[len(f.codes)-1] != 204 {
		t.Fatalf("204 stored or not sent: %+v, %v", resp, f.codes)
	}
}

func TestTeeHidesClientErrorsWhileTheResponseIsUseful(t *testing.T) {
	f := newFakeWriter()
	tee := testTee(f, 10)
	io.WriteString(tee, "a")
	_ = tee.FlushError()
	f.writeErr = errors.New("broken pipe")
	if _, err := tee.Write([]byte("b")); err != nil {
		t.Fatalf("a gone client stopped a storable response: %v", err)
	}
	if _, err := tee.Write([]byte(strings.Repeat("c", 20))); err == nil {
		t.Fatal("an unusable response to a gone client did not report the error")
	}
}

func TestTeeHijack(t *testing.T) {
	f := newFakeWriter()
	tee := testTee(hijackable{f}, 10)
	w := Expose(tee)
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Fatal("Hijacker hidden")
	}
	c, _, err := hj.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
		t.Fatalf("write after hijack: %v", err)
	}
	if tee.Finish() != nil || len(f.codes) != 0 {
		t.Fatal("a hijacked response was stored or written")
	}
}

func TestExposeKeepsOptionalInterfaces(t *testing.T) {
	cases := []struct {
		name         string
		w            http.ResponseWriter
		hijack, push bool
	}{
		{"plain", newFakeWriter(), false, false},
		{"recorder", httptest.NewRecorder(), false, false},
		{"hijacker", hijackable{newFakeWriter()}, true, false},
		{"pusher", pushable{newFakeWriter()}, false, true},
		{"both", both{newFakeWriter()}, true, true},
		{"through Unwrap", unwrapper{both{newFakeWriter()}}, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range []http.ResponseWriter{
				Expose(testTee(tc.w, 10)),
				Expose(NewSuccessWriter(tc.w, func() {})),
			} {
				if _, ok := w.(http.Flusher); !ok {
					t.Fatal("Flusher hidden")
				}
				if _, ok := w.(http.Hijacker); ok != tc.hijack {
					t.Fatalf("Hijacker: %v, want %v", ok, tc.hijack)
				}
				if _, ok := w.(http.Pusher); ok != tc.push {
					t.Fatalf("Pusher: %v, want %v", ok, tc.push)
				}
				if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != tc.w {
					t.Fatal("Unwrap does not lead to the client's writer")
				}
			}
		})
	}
	rc := http.NewResponseController(Expose(testTee(deadlined{newFakeWriter()}, 10)))
	if err := rc.SetWriteDeadline(time.Now()); err != nil {
		t.Fatalf("SetWriteDeadline through Unwrap: %v", err)
	}
	if err := http.NewResponseController(Expose(testTee(unwrapper{newFakeWriter()}, 10))).EnableFullDuplex(); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("EnableFullDuplex on a writer without it: %v", err)
	}
}

func TestNoneMatch(t *testing.T) {
	cases := []struct {
		fields []string
		etag   string
		want   bool
	}{
		{nil, `"a"`, false},
		{[]string{`"a"`}, `"a"`, true},
		{[]string{`"b", "a"`}, `"a"`, true},
		{[]string{`"b"`, `W/"a"`}, `"a"`, true},
		{[]string{`"a"`}, `W/"a"`, true},
		{[]string{`*`}, `"a"`, true},
		{[]string{`"b"`}, `"a"`, false},
		{[]string{`a`}, `"a"`, false},
		{[]string{`"a`}, `"a"`, false},
		{[]string{`"a"`}, ``, false},
		{[]string{` ,, "x" ,"a"`}, `"a"`, true},
	}
	for _, tc := range cases {
		if got := noneMatchFails(tc.fields, tc.etag); got != tc.want {
			t.Errorf("noneMatchFails(%q, %q) = %v, want %v", tc.fields, tc.etag, got, tc.want)
		}
	}
}

// Nothing done to the header of a response served from the cache, by
// middleware outside it, reaches the stored entry, which other requests (and
// the local tier) share: neither appending to a field nor writing into one.
func TestServeStoredDoesNotShareHeaderArrays(t *testing.T) {
	many := make([]string, 20) // more values than serveStored's usual array holds
	for i := range many {
		many[i] = strconv.Itoa(i)
	}
	for _, values := range [][]string{{"1"}, many} {
		t.Run(strconv.Itoa(len(values)), func(t *testing.T) {
			shared := make([]string, len(values), len(values)+4)
			copy(shared, values)
			resp := NewResponse(200, http.Header{"X-A": shared, "Etag": {`"e"`}}, []byte("b"))
			serve := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				Serve(rec, httptest.NewRequest("GET", "/", nil), resp, HitInfo{Hit: true, FreshUntil: 61_500, Created: 1_000, Now: 3_000})
				return rec
			}
			rec := serve()
			h := rec.Header()
			h.Add("X-A", "added")
			h["X-A"][0] = "overwritten"
			h["Etag"][0] = "overwritten"
			h["X-Cache"][0] = "overwritten"
			if got := shared[:len(values)+1]; got[0] != values[0] || got[len(values)] != "" {
				t.Fatalf("a change to one response's header reached the stored entry: %q", got)
			}
			h = serve().Header()
			want := http.Header{
				"X-A": values, "Etag": {`"e"`}, "X-Cache": {"HIT"}, "Cache-Status": {"cachefront; hit; ttl=58"},
				"Age": {"2"}, "Content-Length": {"1"},
			}
			if !reflect.DeepEqual(h, want) {
				t.Fatalf("the next response's header = %v, want %v", h, want)
			}
		})
	}
}
