package cachefront

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
)

// InvalidateOnSuccess returns middleware for write routes (POST, PUT, PATCH,
// DELETE, …): once the handler answers with a 2xx status, it invalidates
// (Store.InvalidateTags) the tags that tags returns for the request, and the
// tags the handler named while it ran with AddTags(r.Context(), …) — the old
// category of a product it moved, say, known only after reading it:
//
//	mux.Handle("PUT /products/{asin}", cachefront.InvalidateOnSuccess(store,
//		func(r *http.Request) []string { return []string{"product:" + r.PathValue("asin")} },
//	)(updateProduct))
//
// The invalidation happens when the handler sends its 2xx status line (its
// first WriteHeader, Write or Flush), before the client can see it, so that
// a client that got the answer never reads the old response from the cache
// afterwards; tags added with AddTags after that point are invalidated when
// the handler returns. A response with any other status invalidates nothing,
// nor does a handler that panics before answering. tags may be nil (only
// AddTags then names tags) and must be safe for concurrent use.
//
// Invalidation failures (Redis unreachable) do not change the response: the
// write has happened. They are counted under
// cachefront_errors_total{op="invalidate"} and logged through the Store's
// logger, and the Store applies them again as soon as Redis answers
// (Store.PendingInvalidations). Empty or over-long tags are skipped and
// counted under op="tags".
//
// The invalidation runs under the request's context without its
// cancellation: a client that hangs up after its write does not leave the
// cache stale. InvalidateOnSuccess panics with an error wrapping
// ErrInvalidOption when store is nil.
func InvalidateOnSuccess(store *Store, tags func(r *http.Request) []string) func(http.Handler) http.Handler {
	if store == nil {
		panic(fmt.Errorf("%w: InvalidateOnSuccess: store is nil", ErrInvalidOption))
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic(fmt.Errorf("%w: InvalidateOnSuccess: handler is nil", ErrInvalidOption))
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tc := &tagCollector{}
			r = r.WithContext(withTagCollector(r.Context(), tc))
			iw := &invalidatingWriter{w: w, inv: &invalidation{store: store, r: r, tags: tags, tc: tc}}
			next.ServeHTTP(expose(iw), r)
			iw.done()
		})
	}
}

// invalidation is the tag invalidation of one write request.
type invalidation struct {
	store    *Store
	r        *http.Request
	tags     func(*http.Request) []string
	tc       *tagCollector
	fromFunc bool     // tags(r) was asked
	sent     []string // tags invalidated so far
}

// run invalidates the tags not invalidated yet.
func (iv *invalidation) run() {
	var todo []string
	if !iv.fromFunc {
		iv.fromFunc = true
		if iv.tags != nil {
			todo = iv.tags(iv.r)
		}
	}
	todo = append(todo, iv.tc.list()...)
	var fresh []string
	for _, t := range todo {
		if slices.Contains(iv.sent, t) || slices.Contains(fresh, t) {
			continue
		}
		if err := validTag(t); err != nil {
			iv.store.storeOps.fail(opTags)
			iv.store.cfg.logger.Warn("cachefront: not invalidating an invalid tag", "error", err)
			continue
		}
		fresh = append(fresh, t)
	}
	if len(fresh) == 0 {
		return
	}
	iv.sent = append(iv.sent, fresh...)
	ctx := context.WithoutCancel(iv.r.Context())
	if err := iv.store.InvalidateTags(ctx, fresh...); err != nil {
		iv.store.cfg.logger.Warn("cachefront: invalidation after a successful write failed; entries stay until their TTL",
			"method", iv.r.Method, "path", iv.r.URL.Path, "error", err)
	}
}

// invalidatingWriter watches a write route's status and runs the
// invalidation when it is a 2xx, before the status goes out.
type invalidatingWriter struct {
	w        http.ResponseWriter
	inv      *invalidation
	status   int // the final status, once sent
	hijacked bool
}

func (iw *invalidatingWriter) Header() http.Header { return iw.w.Header() }

func (iw *invalidatingWriter) WriteHeader(code int) {
	if iw.status == 0 && code >= 200 && !iw.hijacked {
		iw.status = code
		if code < 300 {
			iw.inv.run()
		}
	}
	iw.w.WriteHeader(code)
}

func (iw *invalidatingWriter) Write(p []byte) (int, error) {
	if iw.status == 0 && !iw.hijacked {
		iw.WriteHeader(http.StatusOK)
	}
	return iw.w.Write(p)
}

func (iw *invalidatingWriter) Flush() { _ = iw.FlushError() }

func (iw *invalidatingWriter) FlushError() error {
	if iw.status == 0 && !iw.hijacked {
		iw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(iw.w).Flush()
}

func (iw *invalidatingWriter) Unwrap() http.ResponseWriter { return iw.w }

func (iw *invalidatingWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(iw.w).Hijack()
	if err == nil {
		iw.hijacked = true
	}
	return c, rw, err
}

// done runs after the handler returned: a handler that wrote nothing
// answered 200.
func (iw *invalidatingWriter) done() {
	switch {
	case iw.hijacked:
	case iw.status == 0:
		iw.status = http.StatusOK
		iw.inv.run()
	case iw.status < 300:
		iw.inv.run() // tags added after the status went out
	}
}
