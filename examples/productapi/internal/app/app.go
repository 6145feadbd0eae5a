// Package app assembles the product API from its configuration: database,
// Redis (real, or an in-process development server), the cachefront Store,
// auth, the catalogue and the HTTP router; and runs it with graceful
// shutdown.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/cachefront/cachefront/examples/productapi/internal/auth"
	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
	"github.com/cachefront/cachefront/examples/productapi/internal/config"
	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/httpapi"
	"github.com/cachefront/cachefront/examples/productapi/internal/invalidation"
	"github.com/cachefront/cachefront/examples/productapi/internal/telemetry"
	"github.com/cachefront/cachefront/examples/productapi/internal/users"
)

// topKeys is how many of the keys read most each cache reports, and how
// many the stats route lists across caches.
const topKeys = 20

// App is the assembled service. Close releases what New opened.
type App struct {
	Config   *config.Config
	DB       *db.DB
	Redis    redis.UniversalClient
	Store    *cachefront.Store
	Registry *prometheus.Registry
	Catalog  *catalog.Service
	Users    *users.Store
	Tokens   *auth.Tokens
	Log      *slog.Logger
	// Invalidations applies tag invalidations after writes and retries the
	// ones Redis could not take.
	Invalidations *invalidation.Queue

	handler  http.Handler
	embedded *miniredis.Miniredis // the development Redis, when REDIS_URL is unset
	tracing  *telemetry.Tracing   // nil unless OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set
}

// New opens the database (migrating it), connects Redis (or starts the
// embedded development server), makes the first admin when ADMIN_EMAIL is
// set, and builds the service and its HTTP handler. A Redis that does not
// answer is logged and tolerated: the cache fails open and /readyz reports
// it. Close releases everything New opened.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Log: log, Registry: prometheus.NewRegistry()}
	routeRedisLog(log)
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if a.DB, err = db.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	applied, err := a.DB.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("database ready", "dialect", a.DB.Dialect, "migrations_applied", applied)

	if a.Redis, err = a.connectRedis(ctx); err != nil {
		return nil, err
	}
	if a.tracing, err = telemetry.Setup(ctx, log); err != nil {
		return nil, err
	}
	a.Store = cachefront.NewStore(a.Redis, append(a.tracing.StoreOptions(a.Redis),
		cachefront.WithNamespace(cfg.CacheNamespace),
		cachefront.WithTTL(cfg.CacheTTL),
		cachefront.WithRegisterer(a.Registry),
		cachefront.WithLogger(log.With("component", "cachefront")),
		// Every cache of the Store, the product cache and each route's
		// response cache, counts its reads for the stats route.
		cachefront.WithTopKeys(topKeys),
		// Invalidations Redis did not take are kept in the database until
		// it does, so that they outlive this process.
		cachefront.WithJournal(invalidation.NewJournal(a.DB)),
	)...)
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = []byte(hex.EncodeToString(b[:]))
		log.Warn("JWT_SECRET is not set: using a random development secret; tokens will not survive a restart. Set JWT_SECRET (or JWT_SECRET_FILE) outside development.")
	}
	if a.Tokens, err = auth.NewTokens(secret, cfg.JWTIssuer, cfg.JWTTTL); err != nil {
		return nil, err
	}
	a.Invalidations = invalidation.New(a.Store, log)
	a.Users = users.NewStore(a.DB, cfg.BcryptCost)
	a.Catalog = catalog.NewService(catalog.NewRepository(a.DB), a.Store, cfg.CacheTTL, a.Invalidations.Invalidate, log)

	if cfg.AdminEmail != "" {
		changed, err := a.Users.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			// ADMIN_EMAIL is a secret: neither the error nor the log names it.
			return nil, fmt.Errorf("making the admin of ADMIN_EMAIL: %w", err)
		}
		if changed {
			_ = a.Invalidations.Invalidate(ctx, users.TagUsers)
			log.Info("admin account of ADMIN_EMAIL ready")
		}
	}

	metrics, err := httpapi.NewMetrics(a.Registry)
	if err != nil {
		return nil, err
	}
	perMinute := time.Minute / time.Duration(cfg.LoginPerMinute)
	a.handler = httpapi.New(httpapi.Deps{
		Catalog:         a.Catalog,
		Users:           a.Users,
		Tokens:          a.Tokens,
		Store:           a.Store,
		Gatherer:        a.Registry,
		Metrics:         metrics,
		Log:             log,
		Cache:           a.cacheFunc(),
		Importer:        a.importer(),
		Ready:           a.ready,
		Invalidate:      a.Invalidations.Invalidate,
		TopKeys:         topKeys,
		LoginPerClient:  auth.NewLimiter(perMinute, cfg.LoginPerMinute),
		LoginPerAccount: auth.NewLimiter(perMinute, cfg.LoginPerMinute),
		MaxBodyBytes:    cfg.MaxBodyBytes,
		MaxImportBytes:  cfg.MaxImportBytes,
	})
	a.handler = a.tracing.Wrap(a.handler)
	return a, nil
}

// Handler returns the HTTP handler of the whole API.
func (a *App) Handler() http.Handler { return a.handler }

func (a *App) connectRedis(ctx context.Context) (redis.UniversalClient, error) {
	cfg := a.Config
	var rdb redis.UniversalClient
	switch {
	case cfg.RedisURL != "":
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		outageReady(&opts.ContextTimeoutEnabled, &opts.DialerRetries, &opts.DialTimeout)
		rdb = redis.NewClient(opts)
	case len(cfg.RedisAddrs) > 0:
		// One address or several: a single server, a cluster, or, with
		// REDIS_MASTER_NAME, the sentinels of a failover group.
		opts := &redis.UniversalOptions{Addrs: cfg.RedisAddrs, Password: cfg.RedisPassword,
			MasterName: cfg.RedisMasterName, SentinelPassword: cfg.RedisSentinelPassword}
		outageReady(&opts.ContextTimeoutEnabled, &opts.DialerRetries, &opts.DialTimeout)
		rdb = redis.NewUniversalClient(opts)
	default:
		mr, err := miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("starting the embedded development Redis: %w", err)
		}
		// miniredis decreases TTLs only when told to; ClockTTL makes them
		// follow the wall clock, so that entries expire after CACHE_TTL
		// as they do on a real Redis.
		mr.ClockTTL(true)
		a.embedded = mr
		a.Log.Warn("REDIS_URL is not set: using an embedded in-process Redis-compatible server (miniredis). It is for development only: the cache is not shared between instances and is lost on restart. Set REDIS_URL or REDIS_ADDRS in any real deployment.",
			"addr", mr.Addr())
		opts := &redis.Options{Addr: mr.Addr()}
		outageReady(&opts.ContextTimeoutEnabled, &opts.DialerRetries, &opts.DialTimeout)
		rdb = redis.NewClient(opts)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		// The cache fails open, so the service can start without Redis; it
		// reports not ready until Redis answers.
		a.Log.Error("Redis does not answer; serving from the database until it does", "error", err)
	}
	return rdb, nil
}

// outageReady sets the client options that matter while Redis is down,
// the same for every kind of client: context deadlines reach the socket
// (cachefront bounds each operation through them instead of a watchdog
// goroutine), and a dial that fails is not retried, so that it fails
// within the operation's budget instead of five attempts 100ms apart. The
// pool still waits a second between its own probes after PoolSize failed
// dials in a row; cachefront's breaker cooldown (1s) is of the same order.
func outageReady(ctxTimeout *bool, dialRetries *int, dialTimeout *time.Duration) {
	*ctxTimeout = true
	*dialRetries = 1
	*dialTimeout = time.Second
}

// ready checks the database and Redis, for /readyz, and returns the
// failure of each that failed: "database", "redis" (it does not answer) or
// "invalidations-pending" (it answers, but the cache still misses
// invalidations of writes made while it did not; the instance is not ready
// until it has applied them).
func (a *App) ready(ctx context.Context) map[string]error {
	failed := map[string]error{}
	if err := a.DB.PingContext(ctx); err != nil {
		failed["database"] = err
	}
	if err := a.Store.Ping(ctx); err != nil {
		failed["redis"] = err
	} else if err := a.Invalidations.Ready(); err != nil {
		// Redis answers, but writes made while it did not are not all
		// applied to the cache yet.
		failed["invalidations-pending"] = err
	}
	return failed
}

// Close stops the embedded Redis and closes the connections.
func (a *App) Close() {
	if a.Store != nil {
		a.Store.Close()
	}
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.embedded != nil {
		a.embedded.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
	_ = a.tracing.Close() // exports the last spans
}
