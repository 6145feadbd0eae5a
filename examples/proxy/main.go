// Command proxy is a caching reverse proxy: cachefront's middleware as a
// shared cache (RFC 9111) in front of an origin, on Redis.
//
//	go run ./examples/proxy -origin http://localhost:8080 -listen :8081 -redis localhost:6379
//
// Responses are kept for the freshness they give themselves (Cache-Control
// s-maxage or max-age, CDN-Cache-Control first, Expires), at most -max-ttl;
// responses that state none are kept for 10% of the time since their
// Last-Modified, or not at all. Successful POST, PUT, PATCH and DELETE
// requests invalidate what is stored for their URI on every proxy sharing
// the Redis; textual bodies are stored zstd-compressed and sent as they are
// to clients that take zstd.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
)

// config is what the flags set.
type config struct {
	origin, listen, redis, namespace string
	maxTTL                           time.Duration
	compress                         int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.origin, "origin", "", "the origin's base URL, e.g. http://localhost:8080 (required)")
	flag.StringVar(&cfg.listen, "listen", ":8081", "address to listen on")
	flag.StringVar(&cfg.redis, "redis", "localhost:6379", "Redis address")
	flag.StringVar(&cfg.namespace, "namespace", "proxy", "Redis key namespace")
	flag.DurationVar(&cfg.maxTTL, "max-ttl", time.Hour, "the longest a response is kept fresh")
	flag.IntVar(&cfg.compress, "compress", 1024, "the smallest body stored compressed, in bytes (-1 for none)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(cfg, logger); err != nil {
		logger.Error("proxy stopped", "error", err)
		os.Exit(1)
	}
}

func run(cfg config, logger *slog.Logger) error {
	origin, err := url.Parse(cfg.origin)
	if err != nil || origin.Scheme == "" || origin.Host == "" {
		return errors.New("-origin must be an absolute URL such as http://localhost:8080")
	}
	rdb := redis.NewClient(&redis.Options{Addr: cfg.redis, ContextTimeoutEnabled: true})
	defer rdb.Close()
	store := cachefront.NewStore(rdb, cachefront.WithNamespace(cfg.namespace), cachefront.WithLogger(logger))
	defer store.Close()

	srv := &http.Server{Addr: cfg.listen, Handler: cachingProxy(store, origin, cfg), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logger.Info("caching proxy", "listen", cfg.listen, "origin", origin.String(), "redis", cfg.redis)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cachingProxy is a reverse proxy to origin behind cachefront's middleware
// as a shared cache.
func cachingProxy(store *cachefront.Store, origin *url.URL, cfg config) http.Handler {
	return cachefront.Middleware(store,
		cachefront.WithName("proxy"),
		// Responses do not depend on who asks unless they say so (Vary,
		// private): the origin decides, as with any shared cache.
		cachefront.WithPublic(),
		cachefront.WithTTL(cfg.maxTTL),
		cachefront.WithOriginFreshness(cfg.maxTTL),
		cachefront.WithCompression(cfg.compress),
		// The origin's own query parameters are never a bypass.
		cachefront.WithBypassParam(""),
	)(httputil.NewSingleHostReverseProxy(origin))
}
