package httpcache

import (
	"bufio"
	"net"
	"net/http"
)

// NewSuccessWriter returns a SuccessWriter over w.
func NewSuccessWriter(w http.ResponseWriter, onSuccess func()) *SuccessWriter {
	return &SuccessWriter{w: w, onSuccess: onSuccess, Upto: 299}
}

// SuccessWriter watches a write route's status and calls OnSuccess when it
// is a success (2xx, or up to Upto), before the status goes out, and again when the handler returns
// (Done), for what the handler did after that. Wrap it with Expose.
type SuccessWriter struct {
	w         http.ResponseWriter
	onSuccess func()
	status    int // the final status, once sent
	hijacked  bool
	// Upto is the highest status that counts as success: 299 by default,
	// 399 for RFC 9111 §4.4's "non-error" status.
	Upto int
}

// Header returns the client's header map.
func (iw *SuccessWriter) Header() http.Header { return iw.w.Header() }

// WriteHeader sends the status, calling OnSuccess first for the first 2xx.
func (iw *SuccessWriter) WriteHeader(code int) {
	if iw.status == 0 && code >= 200 && !iw.hijacked {
		iw.status = code
		if code <= iw.Upto {
			iw.onSuccess()
		}
	}
	iw.w.WriteHeader(code)
}

// Write sends body bytes (a 200 first if no status was sent).
func (iw *SuccessWriter) Write(p []byte) (int, error) {
	if iw.status == 0 && !iw.hijacked {
		iw.WriteHeader(http.StatusOK)
	}
	return iw.w.Write(p)
}

// Flush implements http.Flusher.
func (iw *SuccessWriter) Flush() { _ = iw.FlushError() }

// FlushError flushes the client's writer (a 200 first if no status was sent).
func (iw *SuccessWriter) FlushError() error {
	if iw.status == 0 && !iw.hijacked {
		iw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(iw.w).Flush()
}

// Unwrap returns the client's writer, for http.ResponseController.
func (iw *SuccessWriter) Unwrap() http.ResponseWriter { return iw.w }

// HijackConn hijacks the client's connection; nothing is invalidated after.
func (iw *SuccessWriter) HijackConn() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(iw.w).Hijack()
	if err == nil {
		iw.hijacked = true
	}
	return c, rw, err
}

// Done runs after the handler returned: a handler that wrote nothing
// answered 200.
func (iw *SuccessWriter) Done() {
	switch {
	case iw.hijacked:
	case iw.status == 0:
		iw.status = http.StatusOK
		iw.onSuccess()
	case iw.status <= iw.Upto:
		iw.onSuccess() // tags added after the status went out
	}
}
