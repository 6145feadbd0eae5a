package cachefront

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// failReads makes single reads (GET/MGET, not pipelines) of keys containing
// key fail while on is set.
type failReads struct {
	key string
	on  atomic.Bool
}

func (f *failReads) matches(cmd redis.Cmder) bool {
	for _, a := range cmd.Args()[1:] {
		if k, ok := a.(string); ok && strings.Contains(k, f.key) {
			return true
		}
	}
	return false
}

func (f *failReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := strings.ToLower(cmd.Name())
		if f.on.Load() && (name == "get" || name == "mget") && f.matches(cmd) {
			err := errors.New("injected read failure")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f *failReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A caller that arrives after InvalidateTags returned and whose own read of
// the entry fails transiently shares the name of a load that started before
// the invalidation (a failed read names the load of a cold key), but does not
// take that load's pre-invalidation value: it gets a load of its own.
func TestFailedReadNeverTakesALoadFromBeforeIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[string](s, "rf")
		rkey, _ := s.e.Keys.Entry("rf", "k")
		hook := &failReads{key: rkey}
		b.rdb.AddHook(hook)

		db := &sourceData{v: "old"}
		started := make(chan struct{}, 4)
		release := make(chan struct{})
		loader := func(ctx context.Context) (string, error) {
			seen := db.read()
			started <- struct{}{}
			<-release
			return seen, nil
		}
		a := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctx, "k", loader, WithTags("t"))
			a <- v
		}()
		<-started
		changeAndInvalidate(t, s, db, hook)
		bRes := make(chan string, 1)
		go func() {
			v, err := c.GetOrLoad(ctx, "k", loader, WithTags("t"))
			if err != nil {
				v = "error: " + err.Error()
			}
			bRes <- v
		}()
		time.Sleep(150 * time.Millisecond)
		hook.on.Store(false)
		close(release)
		<-a
		if got := <-bRes; got == "old" {
			t.Fatalf("a caller arriving after InvalidateTags returned got %q, loaded before it", got)
		}
	})
}

// The same holds for the middleware: a request whose read of the entry fails
// after an invalidation does not take the response of a handler run that
// began before it.
func TestMiddlewareFailedReadNeverTakesAResponseFromBeforeIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b)
		db := &sourceData{v: "old"}
		started := make(chan struct{}, 4)
		release := make(chan struct{})
		var calls atomic.Int32
		h := Middleware(s, WithTags("t"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen := db.read()
			if calls.Add(1) == 1 {
				started <- struct{}{}
				<-release
			}
			_, _ = w.Write([]byte(seen))
		}))
		hook := &failReads{key: "GET /page"}
		b.rdb.AddHook(hook)
		get := func() <-chan string {
			ch := make(chan string, 1)
			go func() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/page", nil))
				ch <- w.Body.String()
			}()
			return ch
		}

		a := get()
		<-started
		changeAndInvalidate(t, s, db, hook)
		second := get()
		time.Sleep(150 * time.Millisecond) // the request reaches its flight
		hook.on.Store(false)
		close(release)
		if got := <-a; got != "old" {
			t.Fatalf("the first request got %q", got)
		}
		if got := <-second; got != "new" {
			t.Fatalf("a request arriving after InvalidateTags returned got %q, built before it", got)
		}
	})
}

// sourceData is the source of truth the tests' loaders and handlers read.
type sourceData struct {
	mu sync.Mutex
	v  string
}

func (d *sourceData) read() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.v
}

func (d *sourceData) set(v string) {
	d.mu.Lock()
	d.v = v
	d.mu.Unlock()
}

// changeAndInvalidate changes d to "new", invalidates tag "t" and then makes
// the next read of hook's key fail once, as a transient Redis error would.
func changeAndInvalidate(t *testing.T, s *Store, d *sourceData, hook *failReads) {
	t.Helper()
	d.mu.Lock()
	d.v = "new"
	d.mu.Unlock()
	if err := s.InvalidateTags(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	hook.on.Store(true)
}
