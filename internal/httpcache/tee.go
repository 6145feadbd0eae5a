package httpcache

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Tee is the ResponseWriter the handler of a cached route writes to
// when its request leads a load. It passes 1xx responses through at once and
// holds the rest — status, header and body — until the handler returns, so
// that a complete response can get its ETag, answer If-None-Match with 304,
// and be stored. It lets go early, streaming from then on, when the handler
// flushes, when the body passes the size cap, or when the status or header
// rule storing out. After letting go it still keeps the body for the entry,
// up to the cap, and nothing once past it.
//
// Like any ResponseWriter it is used by one handler goroutine at a time; only
// MarkUnstorable may be called from another goroutine.
type Tee struct {
	w       http.ResponseWriter // the client's
	req     *http.Request       // the client's (If-None-Match, HEAD)
	header  http.Header         // what the handler sees
	initial http.Header         // the client's header when the handler started
	limit   int64
	// Unstorable says why a status and header rule storing out ("" if
	// not), given what was set before the handler ran.
	Unstorable func(status int, h, initial http.Header) string
	// OnUnstorable runs once, when the response is first marked
	// unstorable.
	OnUnstorable func()
	xcache       string // X-Cache on the response sent
	CacheStatus  string // Cache-Status on the response sent
	// CompressMin is the shortest body stored compressed (see
	// NewStoredResponse); negative for none.
	CompressMin int
	// HoldErrors holds a 5xx back from the client until Finish, so that a
	// stale response may answer instead (stale-if-error); SendHeld sends
	// it after all.
	HoldErrors bool
	// Revalidating holds a 304 back from the client: the request was made
	// conditional to revalidate a stored response, which answers it
	// instead (Finish returns nil, Status 304).
	Revalidating bool

	code        int
	wroteHeader bool // the handler set its final status
	committed   bool // the header went to the client
	hijacked    bool
	buf         []byte
	n           int64 // body bytes written by the handler
	clientErr   error // the first failed write to the client

	vary    []string    // the handler's Vary, once finished
	Refused atomic.Bool // marked unstorable: the response will not be stored or shared
	mu      sync.Mutex  // guards reason
	reason  string
}

// NewTee returns a Tee for the client's w and r that keeps at most limit
// body bytes for the entry.
func NewTee(w http.ResponseWriter, r *http.Request, limit int64) *Tee {
	h := w.Header().Clone()
	if h == nil {
		h = http.Header{}
	}
	return &Tee{w: w, req: r, header: h, initial: w.Header().Clone(), limit: limit, xcache: "MISS", CompressMin: -1}
}

// MarkUnstorable marks the response as one that will not be stored or
// shared, for reason why; the first call runs OnUnstorable. Safe from any
// goroutine.
func (t *Tee) MarkUnstorable(why string) {
	t.mu.Lock()
	if t.reason == "" {
		t.reason = why
	}
	t.mu.Unlock()
	if t.Refused.CompareAndSwap(false, true) && t.OnUnstorable != nil {
		t.OnUnstorable()
	}
}

// Reason returns why the response was marked unstorable ("" if it was
// not).
func (t *Tee) Reason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reason
}

// SendHeld sends the 5xx HoldErrors held back, as the handler wrote it.
func (t *Tee) SendHeld() {
	t.MarkUnstorable("status")
	t.commit()
	t.sendTrailers()
}

// NotModifiedHeader returns the part of a held 304's header that updates
// the stored response (see Revalidated).
func (t *Tee) NotModifiedHeader() http.Header { return StoredHeader(t.header, t.initial) }

// Vary returns the request headers the handler's response varies on (see
// ResponseVary).
func (t *Tee) Vary() []string { return t.vary }

// Status returns the status the handler set (0 before it set one).
func (t *Tee) Status() int { return t.code }

// Header returns the header map the handler sets; like net/http's, changes
// after WriteHeader do not reach the client, except trailers.
func (t *Tee) Header() http.Header { return t.header }

// WriteHeader records the final status. Informational (1xx) responses go out
// at once. A status or header that rules storing out ends buffering.
func (t *Tee) WriteHeader(code int) {
	if t.hijacked || t.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		h := t.w.Header()
		clear(h)
		copyHeader(h, t.header)
		t.w.WriteHeader(code)
		return
	}
	t.code, t.wroteHeader = code, true
	if t.Revalidating && code == http.StatusNotModified || t.HoldErrors && code >= 500 {
		return
	}
	if why := t.Unstorable(code, t.header, t.initial); why != "" {
		t.MarkUnstorable(why)
		t.commit()
	}
}

// Write buffers p, or sends it on once the response is streaming. Failures to
// write to a client who went away are hidden from the handler while its
// response may still be stored or shared, so that it completes.
func (t *Tee) Write(p []byte) (int, error) {
	if t.hijacked {
		return 0, http.ErrHijacked
	}
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	if !BodyAllowedForStatus(t.code) {
		return 0, http.ErrBodyNotAllowed
	}
	t.n += int64(len(p))
	if t.Refused.Load() {
		t.commit()
		t.buf = nil
		return t.toClient(p)
	}
	if int64(len(t.buf))+int64(len(p)) > t.limit {
		t.MarkUnstorable("size")
		t.commit() // sends what was kept so far, before p
		t.buf = nil
		return t.toClient(p)
	}
	t.buf = append(t.buf, p...)
	if t.committed {
		return t.toClient(p)
	}
	return len(p), nil
}

func (t *Tee) toClient(p []byte) (int, error) {
	if t.req.Method == http.MethodHead {
		return len(p), nil
	}
	if t.clientErr == nil {
		if _, err := t.w.Write(p); err != nil {
			t.clientErr = err
		}
	}
	if t.clientErr != nil && t.Refused.Load() {
		return 0, t.clientErr
	}
	return len(p), nil
}

// commit sends the header and what the body has so far: the response
// streams from now on.
func (t *Tee) commit() {
	if t.committed {
		return
	}
	t.committed = true
	t.sniff()
	h := t.w.Header()
	clear(h)
	copyHeader(h, t.header)
	h.Set("X-Cache", t.xcache)
	appendCacheStatus(h, t.CacheStatus)
	t.w.WriteHeader(t.code)
	if len(t.buf) > 0 {
		_, _ = t.toClient(t.buf)
	}
}

// sniff sets the Content-Type net/http would detect from the body so far, if
// the handler set none, so that the response sent and the one stored agree
// (and a HEAD answered from the entry has the type the GET had).
func (t *Tee) sniff() {
	if _, haveType := t.header["Content-Type"]; !haveType && len(t.buf) > 0 && BodyAllowedForStatus(t.code) {
		t.header.Set("Content-Type", http.DetectContentType(t.buf))
	}
}

// Flush sends the response so far to the client; see FlushError.
func (t *Tee) Flush() { _ = t.FlushError() }

// FlushError sends the response so far to the client and flushes it, for
// http.ResponseController. The response streams from then on; it may still be
// stored if it completes within the size cap.
func (t *Tee) FlushError() error {
	if t.hijacked {
		return http.ErrHijacked
	}
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	t.commit()
	if t.clientErr == nil {
		err := http.NewResponseController(t.w).Flush()
		if errors.Is(err, http.ErrNotSupported) {
			return err
		}
		t.clientErr = err
	}
	if t.clientErr != nil && t.Refused.Load() {
		return t.clientErr
	}
	return nil
}

// Unwrap returns the client's ResponseWriter, for http.ResponseController.
func (t *Tee) Unwrap() http.ResponseWriter { return t.w }

// HijackConn hijacks the client's connection; the response is then never
// stored.
func (t *Tee) HijackConn() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(t.w).Hijack()
	if err == nil {
		t.hijacked = true
		t.MarkUnstorable("hijacked")
	}
	return c, rw, err
}

// finish completes the response once the handler has returned: it sends
// whatever is still held (a 304 when If-None-Match matches) and returns the
// response to store and share, or nil when it may not be.
func (t *Tee) Finish() *Response {
	if t.hijacked {
		return nil
	}
	if !t.wroteHeader {
		t.WriteHeader(http.StatusOK)
	}
	if (t.Revalidating && t.code == http.StatusNotModified || t.HoldErrors && t.code >= 500) && !t.committed {
		return nil
	}
	if cl := t.header.Get("Content-Length"); cl != "" && BodyAllowedForStatus(t.code) {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n != t.n {
			t.MarkUnstorable("incomplete")
		}
	}
	for k := range t.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			t.MarkUnstorable("trailer")
		}
	}
	if t.Refused.Load() {
		t.commit()
		t.sendTrailers()
		return nil
	}
	if !t.committed {
		t.sniff()
	}
	_, originETag := t.header["Etag"]
	if !originETag {
		t.header.Set("Etag", StrongETag(t.code, t.header, t.buf))
	}
	t.vary = ResponseVary(t.header, t.initial) // before the cache's own Vary below
	resp := NewStoredResponse(t.code, StoredHeader(t.header, t.initial), t.buf, t.CompressMin)
	resp.OwnETag = !originETag
	if resp.Coding != "" {
		AddVary(t.header, "Accept-Encoding") // the client's copy says so too
	}
	if !t.committed {
		t.committed = true
		h := t.w.Header()
		clear(h)
		copyHeader(h, t.header)
		h.Set("X-Cache", t.xcache)
		appendCacheStatus(h, t.CacheStatus)
		if BodyAllowedForStatus(t.code) {
			h.Set("Content-Length", strconv.Itoa(len(t.buf)))
		}
		WriteComplete(t.w, t.req, t.code, t.buf)
	}
	return resp
}

// sendTrailers hands the trailer values the handler set after the header
// went out to the client's writer, where net/http looks for them.
func (t *Tee) sendTrailers() {
	declared := t.header.Values("Trailer")
	h := t.w.Header()
	for k, v := range t.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			h[k] = v
			continue
		}
		for _, d := range declared {
			for name := range strings.SplitSeq(d, ",") {
				if http.CanonicalHeaderKey(strings.TrimSpace(name)) == k {
					h[k] = v
				}
			}
		}
	}
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = append([]string(nil), v...)
	}
}

// Optional interfaces. A handler that tests its ResponseWriter for
// http.Hijacker or http.Pusher finds them exactly when the client's writer
// (or one it unwraps to) has them; http.Flusher is always there (flushing
// ends the middleware's buffering), and Unwrap leads http.ResponseController
// to the client's writer for deadlines and full duplex.

// WriterCore is what the middleware's ResponseWriters implement.
type WriterCore interface {
	http.ResponseWriter
	http.Flusher
	FlushError() error
	Unwrap() http.ResponseWriter
	HijackConn() (net.Conn, *bufio.ReadWriter, error)
}

type (
	plainWriter      struct{ WriterCore }
	hijackWriter     struct{ WriterCore }
	pushWriter       struct{ WriterCore }
	hijackPushWriter struct{ WriterCore }
)

// Hijack implements http.Hijacker.
func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.HijackConn() }

// Hijack implements http.Hijacker.
func (w hijackPushWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.HijackConn() }

// Push implements http.Pusher.
func (w pushWriter) Push(target string, opts *http.PushOptions) error {
	return push(w.Unwrap(), target, opts)
}

// Push implements http.Pusher.
func (w hijackPushWriter) Push(target string, opts *http.PushOptions) error {
	return push(w.Unwrap(), target, opts)
}

// expose returns core with the optional interfaces its client's writer has.
func Expose(core WriterCore) http.ResponseWriter {
	_, canHijack := findWriter[http.Hijacker](core.Unwrap())
	_, canPush := findWriter[http.Pusher](core.Unwrap())
	switch {
	case canHijack && canPush:
		return hijackPushWriter{core}
	case canHijack:
		return hijackWriter{core}
	case canPush:
		return pushWriter{core}
	}
	return plainWriter{core}
}

// findWriter looks for an implementation of T along w's Unwrap chain.
func findWriter[T any](w http.ResponseWriter) (T, bool) {
	for {
		if t, ok := w.(T); ok {
			return t, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			var zero T
			return zero, false
		}
		w = u.Unwrap()
	}
}

func push(w http.ResponseWriter, target string, opts *http.PushOptions) error {
	p, ok := findWriter[http.Pusher](w)
	if !ok {
		return http.ErrNotSupported
	}
	return p.Push(target, opts)
}

// appendCacheStatus adds cachefront's member to a response's Cache-Status,
// after those of the caches nearer the origin (RFC 9211).
func appendCacheStatus(h http.Header, member string) {
	h["Cache-Status"] = append(slices.Clip(h["Cache-Status"]), member)
}
