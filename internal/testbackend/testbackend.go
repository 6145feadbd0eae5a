// Package testbackend gives tests the Redis deployments the environment
// offers, one subtest each:
//
//	miniredis  always (in process)
//	redis      CACHEFRONT_REDIS_ADDR=127.0.0.1:6379
//	cluster    CACHEFRONT_CLUSTER_ADDRS=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
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
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return &Backend{Name: "miniredis", RDB: rdb, MR: mr}
	}}}
	if addr := os.Getenv("CACHEFRONT_REDIS_ADDR"); addr != "" {
		list = append(list, Factory{"redis", func(t *testing.T) *Backend {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { _ = rdb.Close() })
			requirePing(t, rdb)
			return &Backend{Name: "redis", RDB: rdb}
		}})
	}
	if addrs := os.Getenv("CACHEFRONT_CLUSTER_ADDRS"); addrs != "" {
		list = append(list, Factory{"cluster", func(t *testing.T) *Backend {
			rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
			t.Cleanup(func() { _ = rdb.Close() })
			requirePing(t, rdb)
			return &Backend{Name: "cluster", RDB: rdb}
		}})
	}
	return list
}

var reportSkip sync.Once

// ForEach runs fn as a subtest per backend.
func ForEach(t *testing.T, fn func(t *testing.T, b *Backend)) {
	t.Helper()
	fs := Factories()
	if len(fs) == 1 {
		reportSkip.Do(func() {
			t.Log("real Redis and Redis Cluster backends skipped: set CACHEFRONT_REDIS_ADDR and CACHEFRONT_CLUSTER_ADDRS to run them")
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
