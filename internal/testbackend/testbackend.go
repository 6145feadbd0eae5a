// Package testbackend gives tests the Redis deployments the environment
// offers, one subtest each:
//
//	miniredis  always (in process)
//	redis      CACHEFRONT_REDIS_ADDR=127.0.0.1:6379
//	cluster    CACHEFRONT_CLUSTER_ADDRS=127.0.0.1:7101,127.0.0.1:7102,… (scripts/redis-cluster.sh)
//	sentinel   CACHEFRONT_SENTINEL_ADDRS=127.0.0.1:7203,… and CACHEFRONT_SENTINEL_MASTER
//	           (scripts/redis-sentinel.sh; the master name defaults to "cachefront")
//
// It is imported by tests only.
package testbackend

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend is one Redis deployment under test.
type Backend struct {
	Name string
	RDB  redis.UniversalClient
	MR   *miniredis.Miniredis // nil for real servers
	open func() redis.UniversalClient
}

// Client opens another client of the same deployment, closed when t ends.
func (b *Backend) Client(t testing.TB) redis.UniversalClient {
	rdb := b.open()
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// FastForward moves time on miniredis; on a real server it reports false
// and the test waits for real expiry instead.
func (b *Backend) FastForward(d time.Duration) bool {
	if b.MR == nil {
		return false
	}
	b.MR.FastForward(d)
	return true
}

// Factory opens a backend for one test.
type Factory struct {
	Name string
	Open func(t *testing.T) *Backend
}

// Factories lists the backends the environment offers.
func Factories() []Factory {
	list := []Factory{{"miniredis", func(t *testing.T) *Backend {
		mr := miniredis.RunT(t)
		return newBackend(t, "miniredis", mr, func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: mr.Addr()}) })
	}}}
	if addr := os.Getenv("CACHEFRONT_REDIS_ADDR"); addr != "" {
		list = append(list, Factory{"redis", func(t *testing.T) *Backend {
			return newBackend(t, "redis", nil, func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: addr}) })
		}})
	}
	if addrs := os.Getenv("CACHEFRONT_CLUSTER_ADDRS"); addrs != "" {
		list = append(list, Factory{"cluster", func(t *testing.T) *Backend {
			return newBackend(t, "cluster", nil, func() redis.UniversalClient {
				return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
			})
		}})
	}
	if addrs := os.Getenv("CACHEFRONT_SENTINEL_ADDRS"); addrs != "" {
		list = append(list, Factory{"sentinel", func(t *testing.T) *Backend {
			return newBackend(t, "sentinel", nil, func() redis.UniversalClient { return redis.NewFailoverClient(FailoverOptions()) })
		}})
	}
	return list
}

func newBackend(t *testing.T, name string, mr *miniredis.Miniredis, open func() redis.UniversalClient) *Backend {
	b := &Backend{Name: name, MR: mr, open: open}
	b.RDB = b.Client(t)
	if mr == nil {
		requirePing(t, b.RDB)
	}
	return b
}

// FailoverOptions are the options of a client of the Sentinel group of
// CACHEFRONT_SENTINEL_ADDRS.
func FailoverOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{MasterName: SentinelMaster(), SentinelAddrs: strings.Split(os.Getenv("CACHEFRONT_SENTINEL_ADDRS"), ",")}
}

// Nodes returns the addresses of the servers behind b: the single server,
// the current master of a Sentinel group, or every node of a cluster.
func (b *Backend) Nodes(ctx context.Context) ([]string, error) {
	switch {
	case b.MR != nil:
		return []string{b.MR.Addr()}, nil
	case b.Name == "sentinel":
		opt := FailoverOptions()
		sc := redis.NewSentinelClient(&redis.Options{Addr: opt.SentinelAddrs[0]})
		defer sc.Close()
		hostPort, err := sc.GetMasterAddrByName(ctx, opt.MasterName).Result()
		if err != nil {
			return nil, err
		}
		return []string{net.JoinHostPort(hostPort[0], hostPort[1])}, nil
	}
	switch c := b.RDB.(type) {
	case *redis.ClusterClient:
		return c.Options().Addrs, nil
	case *redis.Client:
		return []string{c.Options().Addr}, nil
	}
	return nil, nil
}

// SentinelMaster is the name the sentinels of CACHEFRONT_SENTINEL_ADDRS
// know the master by: CACHEFRONT_SENTINEL_MASTER, or "cachefront".
func SentinelMaster() string {
	if name := os.Getenv("CACHEFRONT_SENTINEL_MASTER"); name != "" {
		return name
	}
	return "cachefront"
}

var reportSkip sync.Once

// ForEach runs fn as a subtest per backend.
func ForEach(t *testing.T, fn func(t *testing.T, b *Backend)) {
	t.Helper()
	fs := Factories()
	if len(fs) == 1 {
		reportSkip.Do(func() {
			t.Log("real Redis, Cluster and Sentinel backends skipped: set CACHEFRONT_REDIS_ADDR, CACHEFRONT_CLUSTER_ADDRS and CACHEFRONT_SENTINEL_ADDRS to run them")
		})
	}
	for _, f := range fs {
		t.Run(f.Name, func(t *testing.T) { fn(t, f.Open(t)) })
	}
}

func requirePing(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("backend configured but not answering: %v", err)
	}
}

// WaitFor polls cond until it holds or d passes.
func WaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SilentServer returns the address of a server that accepts connections and
// never answers.
func SilentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	return l.Addr().String()
}
