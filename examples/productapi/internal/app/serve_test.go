package app_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestGracefulShutdown checks that Serve stops when its context ends (as
// on SIGTERM), letting a request in flight finish.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.app.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answering after shutdown")
	}
}

// TestRedisDown checks that the service keeps answering from the database
// when Redis goes away, that /readyz says so, and that it recovers.
func TestRedisDown(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	if e.mr == nil {
		t.Skip("needs the in-process Redis to stop it")
	}
	e.product("/products/B000000001", "MISS")
	e.mr.Close()

	var p page
	e.must(e.do("GET", "/products?category_id=1", "", nil), 200).json(t, &p)
	if p.Total != 2 {
		t.Fatalf("list with Redis down: total %d", p.Total)
	}
	e.must(e.do("GET", "/products/B000000001", "", nil), 200)
	e.must(e.do("PUT", "/products/B000000001", e.admin, map[string]any{"title": "Written while Redis is down", "category_id": 1}), 200)
	var ready struct {
		Status string
		Failed []string
	}
	e.must(e.do("GET", "/readyz", "", nil), 503).json(t, &ready)
	if ready.Status != "unavailable" || len(ready.Failed) != 1 || ready.Failed[0] != "redis" {
		t.Fatalf("readyz with Redis down: %+v", ready)
	}

	if err := e.mr.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.do("GET", "/readyz", "", nil).StatusCode != 200 {
		if time.Now().After(deadline) {
			t.Fatal("not ready again after Redis came back")
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline: the breaker's cooldown must pass
	}
	if p := e.product("/products/B000000001", "MISS"); p.Title != "Written while Redis is down" {
		t.Fatalf("after recovery: %q", p.Title)
	}
}
