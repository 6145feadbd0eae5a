package app_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedisServer runs a throwaway redis-server on a free loopback port,
// or skips the test when there is none.
func startRedisServer(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); rdb.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// /readyz tells "Redis answers, but invalidations of writes it refused are
// still pending" from "Redis does not answer".
func TestReadyzNamesPendingInvalidations(t *testing.T) {
	addr := startRedisServer(t)
	e := startEnv(t, "sqlite", envOptions{extra: map[string]string{"REDIS_URL": "redis://" + addr, "REDIS_ADDRS": ""}})
	type ready struct {
		Status string
		Failed []string
	}
	var r ready
	e.must(e.do("GET", "/readyz", "", nil), 200).json(t, &r)

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	// Writes wait; reads, PING among them, are answered.
	if err := rdb.Do(context.Background(), "CLIENT", "PAUSE", 3000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	e.must(e.do("PUT", "/products/B000000001", e.admin, map[string]any{"title": "Written while Redis refuses writes", "category_id": 1}), 200)
	if n := e.app.Store.PendingInvalidations(); n == 0 {
		t.Fatal("no invalidation pending after a write Redis could not invalidate")
	}
	e.must(e.do("GET", "/readyz", "", nil), 503).json(t, &r)
	if !slices.Equal(r.Failed, []string{"invalidations-pending"}) {
		t.Fatalf("readyz while invalidations are pending: %+v, want only invalidations-pending", r)
	}

	if err := rdb.Do(context.Background(), "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.do("GET", "/readyz", "", nil).StatusCode != 200 {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprint("not ready after Redis took writes again; pending ", e.app.Store.PendingInvalidations()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p := e.product("/products/B000000001", "MISS"); p.Title != "Written while Redis refuses writes" {
		t.Fatalf("after recovery: %q", p.Title)
	}
}
