// Command httpbench serves the benchmarks' product page over HTTP in one of
// the modes the in-process HTTP benchmarks measure, for a load generator on
// loopback (wrk.sh runs wrk against each mode):
//
//	fixed      a handler writing the page's bytes: the ceiling
//	oneget     a handler writing the page it reads with one go-redis GET
//	cached     cachefront.Middleware in front of oneget, hits from Redis
//	cached-l1  the same on a Store with WithLocalCache, hits in process
//
// It answers every path with the page, warms the cache before it listens in
// the cached modes, prints the address it listens on as its first line of
// output, and stops on SIGINT or SIGTERM. -cpuprofile profiles the serving
// (from the first line of output until the stop).
//
// Usage:
//
//	go run ./cmd/httpbench -mode cached -addr 127.0.0.1:0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/cachefront/cachefront/bench"
	"github.com/redis/go-redis/v9"
)

func main() {
	mode := flag.String("mode", "fixed", "fixed, oneget, cached or cached-l1")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	redisAddr := flag.String("redis", envOr("CACHEFRONT_REDIS_ADDR", "127.0.0.1:6379"), "Redis address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the serving to this file")
	flag.Parse()
	if err := run(*mode, *addr, *redisAddr, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "httpbench:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(mode, addr, redisAddr, cpuprofile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	page := bench.ProductPage()
	if err := bench.StorePage(ctx, rdb, bench.PageKey, page); err != nil {
		return fmt.Errorf("storing the page in Redis at %s: %w", redisAddr, err)
	}

	var (
		h     http.Handler
		store *cachefront.Store
	)
	switch mode {
	case "fixed":
		h = bench.FixedHandler(page)
	case "oneget":
		h = bench.OneGetHandler(rdb, bench.PageKey)
	case "cached":
		store = bench.PageStore(rdb, "cfbenchhttp")
	case "cached-l1":
		store = bench.PageStore(rdb, "cfbenchhttplocal", bench.LocalTier())
	default:
		return fmt.Errorf("unknown -mode %q: want fixed, oneget, cached or cached-l1", mode)
	}
	if store != nil {
		defer store.Close()
		h = bench.CachedHandler(store, bench.OneGetHandler(rdb, bench.PageKey))
		// An entry left by an earlier run could expire during this one: every
		// run starts from a new one.
		if err := store.Delete(ctx, "pages:GET "+bench.PagePath); err != nil {
			return err
		}
		if err := warm(ctx, h, store, mode == "cached-l1", len(page)); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// warm requests the page until it is a hit, from the in-process tier when
// local is set (the tier serves nothing until its events are subscribed).
func warm(ctx context.Context, h http.Handler, store *cachefront.Store, local bool, size int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		before := store.Stats().LocalHits
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, bench.PagePath, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() != size {
			return fmt.Errorf("warming the cache: status %d, %d bytes", rec.Code, rec.Body.Len())
		}
		if rec.Header().Get("X-Cache") == "HIT" && (!local || store.Stats().LocalHits > before) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("warming the cache: no hit after 10s (X-Cache %q)", rec.Header().Get("X-Cache"))
		case <-time.After(time.Millisecond):
		}
	}
}
