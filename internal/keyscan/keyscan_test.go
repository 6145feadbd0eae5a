package keyscan

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The suite runs against every backend the environment offers:
//
//	miniredis  always (in process)
//	ring       always (two in-process miniredis)
//	redis      CACHEFRONT_REDIS_ADDR=127.0.0.1:6379
//	cluster    CACHEFRONT_CLUSTER_ADDRS=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
//
// Each test writes under a random prefix of its own, so runs never see each
// other's keys, and deletes what it wrote.

type backend struct {
	name string
	open func(t *testing.T) redis.UniversalClient
	// real: a Redis server, whose SCAN answers in pages of about COUNT
	// (miniredis answers everything in one reply).
	real bool
}

func backends(t *testing.T) []backend {
	t.Helper()
	list := []backend{
		{name: "miniredis", open: func(t *testing.T) redis.UniversalClient {
			mr := miniredis.RunT(t)
			return closeLater(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}))
		}},
		{name: "ring", open: func(t *testing.T) redis.UniversalClient {
			a, b := miniredis.RunT(t), miniredis.RunT(t)
			return closeLater(t, redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr(), "b": b.Addr()}}))
		}},
	}
	if addr := os.Getenv("CACHEFRONT_REDIS_ADDR"); addr != "" {
		list = append(list, backend{name: "redis", real: true, open: func(t *testing.T) redis.UniversalClient {
			return requirePing(t, closeLater(t, redis.NewClient(&redis.Options{Addr: addr})))
		}})
	}
	if addrs := os.Getenv("CACHEFRONT_CLUSTER_ADDRS"); addrs != "" {
		list = append(list, backend{name: "cluster", real: true, open: func(t *testing.T) redis.UniversalClient {
			return requirePing(t, closeLater(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})))
		}})
	}
	if len(list) == 2 {
		t.Log("real Redis and Redis Cluster backends skipped: set CACHEFRONT_REDIS_ADDR and CACHEFRONT_CLUSTER_ADDRS to run them")
	}
	return list
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b backend, rdb redis.UniversalClient)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b, b.open(t)) })
	}
}

func closeLater[C interface{ Close() error }](t *testing.T, c C) C {
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func requirePing(t *testing.T, rdb redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("backend configured but not answering: %v", err)
	}
	return rdb
}

func newPrefix() string { return fmt.Sprintf("keyscan-test:%016x:", rand.Uint64()) }

// write sets keys (one command each, so that a cluster spreads them over
// their slots) and deletes them when the test ends. They also expire, in
// case the cleanup never runs.
func write(t *testing.T, rdb redis.UniversalClient, keys ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, "1", 10*time.Minute)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
	})
}

func numbered(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestPattern(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"", "*"},
		{"ns:products:", "ns:products:*"},
		{"a*b", `a\*b*`},
		{"a?b", `a\?b*`},
		{"[ab]", `\[ab\]*`},
		{`back\slash`, `back\\slash*`},
		{`*?[]\`, `\*\?\[\]\\*`},
		{"^-{}", "^-{}*"}, // special only inside a class, or not at all
		{"ключ:", "ключ:*"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := Pattern(tt.prefix); got != tt.want {
				t.Fatalf("Pattern(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"negative count", Options{Count: -1}},
		{"negative limit", Options{Limit: -1}},
	}
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	defer rdb.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Scan(context.Background(), rdb, "p:", tt.opt)
			if !errors.Is(err, ErrInvalidOptions) || res.Complete {
				t.Fatalf("Scan = %+v, %v; want ErrInvalidOptions", res, err)
			}
		})
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		count     int64 // COUNT hint; small ones make real servers page
		keyPrefix bool  // also write the prefix itself as a key
	}{
		{"none", 0, 0, false},
		{"one", 1, 0, false},
		{"many", 250, 0, false},
		{"many in small pages", 250, 7, false},
		{"the prefix itself", 3, 0, true},
	}
	forEachBackend(t, func(t *testing.T, _ backend, rdb redis.UniversalClient) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				prefix := newPrefix()
				keys := numbered(prefix, tt.n)
				if tt.keyPrefix {
					keys = append(keys, prefix)
				}
				// Neighbours that share all but the prefix's last byte, or
				// lack it, must not be counted.
				others := append(numbered(strings.TrimSuffix(prefix, ":")+";", 20), strings.TrimSuffix(prefix, ":"))
				write(t, rdb, append(others, keys...)...)

				res, err := Scan(context.Background(), rdb, prefix, Options{Count: tt.count})
				if err != nil || !res.Complete {
					t.Fatalf("Scan = %+v, %v; want a complete scan", res, err)
				}
				if res.Keys != int64(len(keys)) {
					t.Fatalf("Keys = %d, want %d", res.Keys, len(keys))
				}
				if res.Names != nil {
					t.Fatalf("Names = %v with no Limit", res.Names)
				}
			})
		}
	})
}

func TestCountConvenience(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, rdb redis.UniversalClient) {
		prefix := newPrefix()
		write(t, rdb, numbered(prefix, 42)...)
		res, err := Count(context.Background(), rdb, prefix)
		if err != nil || res.Keys != 42 || !res.Complete || res.Names != nil {
			t.Fatalf("Count = %+v, %v; want 42 keys, complete", res, err)
		}
	})
}

func TestNames(t *testing.T) {
	const n = 60
	tests := []struct {
		name  string
		limit int
		want  int // names returned
	}{
		{"no limit lists none", 0, 0},
		{"limit below the count", 5, 5},
		{"limit equal to the count", n, n},
		{"limit above the count", 1000, n},
	}
	forEachBackend(t, func(t *testing.T, _ backend, rdb redis.UniversalClient) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				prefix := newPrefix()
				keys := numbered(prefix, n)
				write(t, rdb, keys...)
				res, err := Scan(context.Background(), rdb, prefix, Options{Limit: tt.limit, Count: 10})
				if err != nil || res.Keys != n {
					t.Fatalf("Scan = %+v, %v; want %d keys", res, err, n)
				}
				if len(res.Names) != tt.want {
					t.Fatalf("%d names, want %d", len(res.Names), tt.want)
				}
				for _, k := range res.Names {
					if !slices.Contains(keys, k) {
						t.Fatalf("name %q was not written under the prefix", k)
					}
				}
				if tt.want == n && !slices.Equal(sortedCopy(res.Names), sortedCopy(keys)) {
					t.Fatalf("names %v, want every key written", res.Names)
				}
			})
		}
	})
}

// A prefix is literal: its glob metacharacters must not match other keys.
func TestPrefixEscaping(t *testing.T) {
	tests := []struct {
		name    string
		suffix  string   // appended to a random prefix
		match   []string // appended to the random prefix: keys to count
		noMatch []string // appended to the random prefix: keys to ignore
	}{
		{"star", "a*", []string{"a*", "a*1"}, []string{"a", "ab", "abc*"}},
		{"question mark", "a?", []string{"a?x"}, []string{"ab", "abx", "a"}},
		{"class", "[ab]", []string{"[ab]1", "[ab]"}, []string{"a1", "b", "[ab", "[a]"}},
		{"star and class", "x*[ab]", []string{"x*[ab]1", "x*[ab]2"}, []string{"xyz[ab]1", "x*a1", "xa", "x*[ab", "x*b"}},
		{"backslash", `back\slash`, []string{`back\slash1`}, []string{"backslash1", `back\\slash`}},
		{"closing bracket", "]x", []string{"]x1"}, []string{"x", "]"}},
		{"escape of a star", `\*`, []string{`\*1`}, []string{"*1", `\x`}},
	}
	forEachBackend(t, func(t *testing.T, _ backend, rdb redis.UniversalClient) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				base := newPrefix()
				var match, all []string
				for _, s := range tt.match {
					match = append(match, base+s)
				}
				for _, s := range tt.noMatch {
					all = append(all, base+s)
				}
				write(t, rdb, append(all, match...)...)

				res, err := Scan(context.Background(), rdb, base+tt.suffix, Options{Limit: 100})
				if err != nil || !res.Complete {
					t.Fatalf("Scan = %+v, %v", res, err)
				}
				if !slices.Equal(sortedCopy(res.Names), sortedCopy(match)) || res.Keys != int64(len(match)) {
					t.Fatalf("prefix %q counted %d keys %q, want %q", base+tt.suffix, res.Keys, res.Names, match)
				}
			})
		}
	})
}

// A context that has already ended asks Redis nothing and returns at once.
func TestContextAlreadyEnded(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() context.Context
		want error
	}{
		{"deadline passed", func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
		{"canceled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, context.Canceled},
	}
	forEachBackend(t, func(t *testing.T, _ backend, rdb redis.UniversalClient) {
		prefix := newPrefix()
		write(t, rdb, numbered(prefix, 30)...)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				type answer struct {
					res Result
					err error
				}
				done := make(chan answer, 1)
				go func() {
					res, err := Count(tt.ctx(), rdb, prefix)
					done <- answer{res, err}
				}()
				select {
				case a := <-done:
					if a.res.Complete || a.res.Keys != 0 || !errors.Is(a.err, tt.want) {
						t.Fatalf("Count = %+v, %v; want 0 keys, incomplete, %v", a.res, a.err, tt.want)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Count with an ended context did not return")
				}
			})
		}
	})
}

// scanHook counts SCAN calls and runs after on each reply.
type scanHook struct {
	calls atomic.Int64
	after func()
}

func (h *scanHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scanHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *scanHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "scan" {
			h.calls.Add(1)
			h.after()
		}
		return err
	}
}

// A context that ends between two SCAN calls stops the scan there, with the
// keys counted so far. Only real servers answer SCAN in several pages.
func TestContextEndsMidScan(t *testing.T) {
	const n = 200
	for _, b := range backends(t) {
		if !b.real {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			hook := &scanHook{after: cancel}
			rdb := b.open(t)
			masters := int64(1)
			if c, ok := rdb.(*redis.ClusterClient); ok {
				masters = int64(countMasters(t, c))
				// ForEachMaster hands out node clients: hook each of them.
				_ = c.ForEachMaster(context.Background(), func(_ context.Context, node *redis.Client) error {
					node.AddHook(hook)
					return nil
				})
			} else {
				rdb.AddHook(hook)
			}
			prefix := newPrefix()
			write(t, rdb, numbered(prefix, n)...)
			hook.calls.Store(0)

			res, err := Scan(ctx, rdb, prefix, Options{Count: 5})
			if res.Complete || !errors.Is(err, context.Canceled) {
				t.Fatalf("Scan = %+v, %v; want incomplete, context.Canceled", res, err)
			}
			if res.Keys >= n {
				t.Fatalf("Keys = %d after one page of COUNT 5 per node, want fewer than %d", res.Keys, n)
			}
			// Each node makes at most the call it had started.
			if calls := hook.calls.Load(); calls < 1 || calls > masters {
				t.Fatalf("%d SCAN calls, want 1 to %d", calls, masters)
			}
		})
	}
}

func countMasters(t *testing.T, c *redis.ClusterClient) int {
	t.Helper()
	var n atomic.Int64
	if err := c.ForEachMaster(context.Background(), func(context.Context, *redis.Client) error {
		n.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

func TestClusterCountsEveryMaster(t *testing.T) {
	addrs := os.Getenv("CACHEFRONT_CLUSTER_ADDRS")
	if addrs == "" {
		t.Skip("set CACHEFRONT_CLUSTER_ADDRS to run against a Redis Cluster")
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	t.Cleanup(func() { _ = rdb.Close() })
	requirePing(t, rdb)
	ctx := context.Background()

	masters := countMasters(t, rdb)
	if masters < 2 {
		t.Skipf("a cluster of %d master(s) does not test spreading", masters)
	}

	tests := []struct {
		name  string
		n     int
		count int64
	}{
		{"spread over slots", 300, 0},
		{"spread over slots in small pages", 300, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := newPrefix()
			keys := numbered(prefix, tt.n)
			write(t, rdb, keys...)

			perMaster := map[string]int{}
			for _, k := range keys {
				node, err := rdb.MasterForKey(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				perMaster[node.Options().Addr]++
			}
			if len(perMaster) != masters {
				t.Fatalf("keys landed on %d of %d masters: %v", len(perMaster), masters, perMaster)
			}

			res, err := Scan(ctx, rdb, prefix, Options{Count: tt.count, Limit: tt.n})
			if err != nil || !res.Complete || res.Keys != int64(tt.n) {
				t.Fatalf("Scan = %d keys, complete %v, %v; want %d over %v", res.Keys, res.Complete, err, tt.n, perMaster)
			}
			if !slices.Equal(sortedCopy(res.Names), sortedCopy(keys)) {
				t.Fatal("names differ from the keys written")
			}
		})
	}
}

// fakeNode answers SCAN from pages, so that paging, failures and cuts are
// tested without a server. Any other command panics on the nil interface.
type fakeNode struct {
	redis.UniversalClient
	pages    [][]string
	failAt   int   // page whose call fails, or -1
	failErr  error // what that call returns
	cancel   func()
	cancelAt int // page after whose reply cancel runs, or -1
	calls    int
	t        *testing.T
}

func (f *fakeNode) Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd {
	f.calls++
	page := int(cursor) // cursor i asks for page i
	if page != f.calls-1 {
		f.t.Errorf("call %d asked for cursor %d", f.calls, cursor)
	}
	if match != `p\*:*` || count != 3 {
		f.t.Errorf("SCAN MATCH %q COUNT %d, want p\\*:* 3", match, count)
	}
	if page == f.failAt {
		if f.cancel != nil {
			f.cancel() // as a socket deadline fires with the context
		}
		return redis.NewScanCmdResult(nil, 0, f.failErr)
	}
	next := uint64(page + 1)
	if next == uint64(len(f.pages)) {
		next = 0
	}
	if page == f.cancelAt {
		f.cancel()
	}
	return redis.NewScanCmdResult(f.pages[page], next, nil)
}

func TestPagingWithoutServer(t *testing.T) {
	errBroken := errors.New("connection reset")
	pages := [][]string{{"p*:a", "p*:b"}, {}, {"p*:c"}, {"p*:d", "p*:e", "p*:f"}}
	tests := []struct {
		name      string
		failAt    int
		failErr   error
		cancelAt  int
		limit     int
		wantKeys  int64
		wantCalls int
		wantErr   error
		wantNames []string
	}{
		{"every page", -1, nil, -1, 0, 6, 4, nil, nil},
		{"names up to the limit across pages", -1, nil, -1, 4, 6, 4, nil, []string{"p*:a", "p*:b", "p*:c", "p*:d"}},
		{"failure keeps the partial count", 2, errBroken, -1, 10, 2, 3, errBroken, []string{"p*:a", "p*:b"}},
		{"cut between pages", -1, nil, 0, 0, 2, 1, context.Canceled, nil},
		{"cut on the last page is complete", -1, nil, 3, 0, 6, 4, nil, nil},
		{"socket error after the cut is the cut", 1, errors.New("i/o timeout"), -1, 0, 2, 2, context.Canceled, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &fakeNode{pages: pages, failAt: tt.failAt, failErr: tt.failErr, cancelAt: tt.cancelAt, t: t}
			if tt.cancelAt >= 0 || errors.Is(tt.wantErr, context.Canceled) {
				f.cancel = cancel
			}
			res, err := Scan(ctx, f, "p*:", Options{Count: 3, Limit: tt.limit})
			if res.Keys != tt.wantKeys || f.calls != tt.wantCalls {
				t.Fatalf("Keys %d after %d calls, want %d after %d", res.Keys, f.calls, tt.wantKeys, tt.wantCalls)
			}
			if res.Complete != (tt.wantErr == nil) || res.Complete != (err == nil) {
				t.Fatalf("Complete %v with error %v, want error %v", res.Complete, err, tt.wantErr)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(res.Names, tt.wantNames) {
				t.Fatalf("Names %q, want %q", res.Names, tt.wantNames)
			}
		})
	}
}
