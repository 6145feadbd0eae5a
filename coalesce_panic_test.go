package cachefront

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// panicPipelines makes the next pipeline panic (a client hook failing), once.
type panicPipelines struct{ armed atomic.Bool }

func (p *panicPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *panicPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *panicPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		snapshot := false
		for _, c := range cmds {
			snapshot = snapshot || strings.EqualFold(c.Name(), "get") && strings.Contains(c.String(), "#seq")
		}
		if snapshot && p.armed.CompareAndSwap(true, false) {
			panic("client hook failed")
		}
		return next(ctx, cmds)
	}
}

// A leading request whose second look panics (a client hook failing) still
// closes its flight: later requests for the same key and state run the
// handler instead of hanging on a flight nobody will ever answer.
func TestLeaderPanicInSecondLookClosesItsFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		single, ok := b.rdb.(*redis.Client)
		if !ok {
			t.Skip("builds a ContextTimeoutEnabled client from a single-server one")
		}
		opt := *single.Options()
		opt.ContextTimeoutEnabled = true // operations run in the caller's goroutine
		b = &testBackend{name: b.name, rdb: redis.NewClient(&opt)}
		t.Cleanup(func() { _ = b.rdb.Close() })
		hook := &panicPipelines{}
		b.rdb.AddHook(hook)
		s := newTestStore(t, b)
		var calls atomic.Int32
		h := Middleware(s, WithTTL(time.Minute))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			_, _ = w.Write([]byte("body"))
		}))

		if err := b.rdb.Ping(context.Background()).Err(); err != nil { // connect first
			t.Fatal(err)
		}
		hook.armed.Store(true)
		func() {
			defer func() { _ = recover() }() // net/http would recover it too
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
		}()

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
		if ctx.Err() != nil || calls.Load() == 0 || !strings.Contains(w.Body.String(), "body") {
			t.Fatalf("a request after the leader's panic hung on its flight (ctx %v, handler calls %d, body %q)",
				ctx.Err(), calls.Load(), w.Body.String())
		}
	})
}
