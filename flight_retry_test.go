package cachefront

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A caller that arrives after InvalidateTags, joins a load that then reports
// a conflict (a late tag invalidated during it) and retries, is never handed
// the result of a load that started before the invalidation, such as the
// retry of an earlier conflicting load: a retry is named after the flight it
// follows, so only that flight's callers share it.
func TestConflictRetryNeverJoinsAnOlderRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[string](s, "retry")

		var mu sync.Mutex
		db := "old" // the source of truth
		const n = 8
		var started, release [n]chan struct{}
		for i := range n {
			started[i] = make(chan struct{})
			release[i] = make(chan struct{})
		}
		for i := 4; i < n; i++ {
			close(release[i]) // loads after the third one are not held
		}
		var calls atomic.Int32
		loader := func(ctx context.Context) (string, error) {
			i := int(calls.Add(1))
			mu.Lock()
			seen := db
			mu.Unlock()
			close(started[i])
			<-release[i]
			AddTags(ctx, "t")
			return seen + "#" + strconv.Itoa(i), nil
		}
		get := func() <-chan string {
			ch := make(chan string, 1)
			go func() {
				v, err := c.GetOrLoad(ctx, "k", loader)
				if err != nil {
					v = "error: " + err.Error()
				}
				ch <- v
			}()
			return ch
		}
		settle := func() { time.Sleep(150 * time.Millisecond) } // a goroutine reaches DoChan

		// L0: a load that an invalidation of its late tag makes unstorable;
		// C joins it and, on its conflict, starts the retry flight L2.
		a := get()
		<-started[1]
		if err := s.InvalidateTags(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		cRes := get()
		settle()
		close(release[1])
		<-a
		<-started[2] // L2, C's retry, is loading (it read "old")

		// L1: D starts a new load of the key before the source changes.
		d := get()
		<-started[3]

		// The source changes and the tag is invalidated.
		mu.Lock()
		db = "new"
		mu.Unlock()
		if err := s.InvalidateTags(ctx, "t"); err != nil {
			t.Fatal(err)
		}

		// B arrives after InvalidateTags returned and joins L1 (the key is
		// still absent: nothing was stored).
		bRes := get()
		settle()
		close(release[3]) // L1 ends with a conflict: B retries
		<-d
		settle()
		close(release[2]) // L2 ends
		<-cRes

		got := <-bRes
		if strings.HasPrefix(got, "old") {
			t.Fatalf("a caller arriving after InvalidateTags returned got %q, computed from data read before it", got)
		}
	})
}
