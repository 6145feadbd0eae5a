package bench

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
)

// Every benchmark talks to one real Redis, CACHEFRONT_REDIS_ADDR (default
// 127.0.0.1:6379), through clients that differ only in ContextTimeoutEnabled:
//
//	default     go-redis's defaults; cachefront then bounds each operation
//	            with a watchdog goroutine
//	ctxtimeout  ContextTimeoutEnabled: true; cachefront relies on the
//	            context deadline
//
// Keys live under per-library prefixes ("cfbench", "floorbench:", …) and
// expire after TTL; nothing is flushed, so the server may be shared.

const defaultAddr = "127.0.0.1:6379"

func redisAddr() string {
	if a := os.Getenv("CACHEFRONT_REDIS_ADDR"); a != "" {
		return a
	}
	return defaultAddr
}

// clientKinds are the client configurations, by name.
var clientKinds = []string{"default", "ctxtimeout"}

var clients struct {
	mu   sync.Mutex // guards m and err
	m    map[string]*redis.Client
	err  error // the first failed ping: every later caller skips at once
	runs string
}

// client returns the shared client of the given kind, skipping tb when Redis
// does not answer.
func client(tb testing.TB, kind string) *redis.Client {
	tb.Helper()
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if clients.err != nil {
		tb.Skipf("no Redis at %s (%v): set CACHEFRONT_REDIS_ADDR to run against one", redisAddr(), clients.err)
	}
	if c, ok := clients.m[kind]; ok {
		return c
	}
	opts := &redis.Options{Addr: redisAddr()}
	switch kind {
	case "default":
	case "ctxtimeout":
		opts.ContextTimeoutEnabled = true
	default:
		tb.Fatalf("unknown client kind %q", kind)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		clients.err = err
		tb.Skipf("no Redis at %s (%v): set CACHEFRONT_REDIS_ADDR to run against one", redisAddr(), err)
	}
	if clients.m == nil {
		clients.m = map[string]*redis.Client{}
	}
	clients.m[kind] = c
	return c
}

// runID tells this process's cold keys from those a run a few minutes ago
// left behind.
func runID() string {
	clients.mu.Lock()
	defer clients.mu.Unlock()
	if clients.runs == "" {
		clients.runs = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return clients.runs
}

var peers struct {
	mu sync.Mutex // guards m
	m  map[string]Peer
}

// peerNames are the libraries compared, floor first. cachefront-local is
// cachefront with its in-process tier (WithLocalCache) in front of Redis.
var peerNames = []string{"floor", "cachefront", "cachefront-local", "goredis-cache", "eko"}

// peer returns the shared Peer of library name on a client of kind.
func peer(tb testing.TB, name, kind string) Peer {
	tb.Helper()
	rdb := client(tb, kind)
	peers.mu.Lock()
	defer peers.mu.Unlock()
	id := name + "/" + kind
	if p, ok := peers.m[id]; ok {
		return p
	}
	var p Peer
	switch name {
	case "floor":
		p = NewFloor(rdb, "floorbench:")
	case "cachefront":
		p = NewCachefront(rdb, name, "cfbench")
	case "cachefront-local":
		p = NewCachefront(rdb, name, "cfbenchlocal", cachefront.WithLocalCache(10_000, time.Minute))
	case "goredis-cache":
		p = NewGoRedisCache(rdb, "grcbench:")
	case "eko":
		p = NewEko(rdb, "ekobench:")
	default:
		tb.Fatalf("unknown library %q", name)
	}
	if peers.m == nil {
		peers.m = map[string]Peer{}
	}
	peers.m[id] = p
	return p
}
