package cachefront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The failure WithReplicaAck prevents, shown on a Sentinel group of its
// own: a master takes an invalidation its replica never gets, dies, and the
// replica is promoted with the old tag versions. Without the option the
// invalidation returned nil and the entry it invalidated is served again;
// with it, the invalidation returned ErrUnavailable (the caller knows) and
// its retry reaches the new master, after which the entry is a miss.
func TestFailoverAfterAnUnreplicatedInvalidation(t *testing.T) {
	needFailoverEnvironment(t)
	for _, acked := range []bool{false, true} {
		t.Run(fmt.Sprintf("replica-ack=%v", acked), func(t *testing.T) {
			t.Parallel() // each has a group of its own; most of the time is waiting
			g := startSentinelGroup(t)
			var opts []Option
			if acked {
				opts = append(opts, WithReplicaAck(1, 300*time.Millisecond))
			}
			s := NewStore(redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "failover", SentinelAddrs: g.sentinels}),
				append(opts, WithOperationTimeout(time.Second))...)
			defer s.Close()
			c := New[string](s, "c")
			if err := c.Set(ctxBG, "k", "old", WithTags("t")); err != nil {
				t.Fatal(err)
			}
			if n, err := g.master.Do(ctxBG, "WAIT", 1, 2000).Int64(); err != nil || n != 1 {
				t.Fatalf("the entry did not reach the replica: %d, %v", n, err)
			}
			// Cut the replica off and keep it busy, so that it can neither
			// receive the invalidation nor reconnect until the master is gone.
			busy := make(chan error, 1)
			go func() {
				_, err := g.replica.Pipelined(ctxBG, func(p redis.Pipeliner) error {
					p.Do(ctxBG, "CLIENT", "KILL", "TYPE", "master")
					busyScript.Eval(ctxBG, p, nil, 2000)
					return nil
				})
				busy <- err
			}()
			time.Sleep(200 * time.Millisecond)
			err := s.InvalidateTags(ctxBG, "t")
			if acked != (err != nil) || err != nil && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("InvalidateTags with replica-ack %v: %v", acked, err)
			}
			g.killMaster()
			<-busy
			waitFor(t, 30*time.Second, "the sentinels to promote the replica", func() bool {
				addr, err := g.sentinel.GetMasterAddrByName(ctxBG, "failover").Result()
				return err == nil && net.JoinHostPort(addr[0], addr[1]) == g.replicaAddr
			})
			// Read through the Store until it reaches the new master.
			var got string
			waitFor(t, 15*time.Second, "a read on the new master", func() bool {
				v, err := c.Get(ctxBG, "k", WithTags("t"))
				switch {
				case err == nil:
					got = v
					return !acked // with the option, wait for the retry to land
				case errors.Is(err, ErrNotFound):
					got = ""
					return true
				}
				return false
			})
			if !acked && got != "old" {
				t.Fatalf("without WithReplicaAck the invalidated entry was not served again (%q): the failure was not reproduced", got)
			}
			if acked && got != "" {
				t.Fatalf("with WithReplicaAck the entry is still served after the retry: %q", got)
			}
		})
	}
}

// needFailoverEnvironment skips the failover tests where they cannot start
// Sentinel groups of their own: they need redis-server, and run where the
// environment has Sentinel (CACHEFRONT_SENTINEL_ADDRS, as .ci/run sets).
func needFailoverEnvironment(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil || os.Getenv("CACHEFRONT_SENTINEL_ADDRS") == "" {
		t.Skip("needs redis-server and a Sentinel environment (CACHEFRONT_SENTINEL_ADDRS, as .ci/run sets)")
	}
}

// sentinelGroup is a master, a replica and three sentinels on free
// loopback ports, stopped when the test ends.
type sentinelGroup struct {
	master, replica *redis.Client
	replicaAddr     string
	sentinel        *redis.SentinelClient
	sentinels       []string
	masterCmd       *exec.Cmd
}

func startSentinelGroup(t *testing.T) *sentinelGroup {
	t.Helper()
	dir := t.TempDir()
	ports := freePorts(t, 5)
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command("redis-server", args...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	server := func(port int, extra ...string) []string {
		return append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--dbfilename", fmt.Sprintf("dump-%d.rdb", port), "--logfile", filepath.Join(dir, fmt.Sprintf("%d.log", port))}, extra...)
	}
	g := &sentinelGroup{replicaAddr: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	g.masterCmd = start(server(ports[0])...)
	start(server(ports[1], "--replicaof", "127.0.0.1", fmt.Sprint(ports[0]))...)
	g.master = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0])})
	g.replica = redis.NewClient(&redis.Options{Addr: g.replicaAddr, ReadTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = g.master.Close(); _ = g.replica.Close() })
	waitFor(t, 10*time.Second, "the replica to sync", func() bool {
		info, err := g.replica.Info(ctxBG, "replication").Result()
		return err == nil && containsLine(info, "master_link_status:up")
	})
	for _, p := range ports[2:] {
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", p))
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor failover 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds failover 1000\nsentinel failover-timeout failover 5000\n",
			p, dir, filepath.Join(dir, fmt.Sprintf("sentinel-%d.log", p)), ports[0])
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		start(conf, "--sentinel")
		g.sentinels = append(g.sentinels, fmt.Sprintf("127.0.0.1:%d", p))
	}
	g.sentinel = redis.NewSentinelClient(&redis.Options{Addr: g.sentinels[0]})
	t.Cleanup(func() { _ = g.sentinel.Close() })
	waitFor(t, 20*time.Second, "the sentinels to know the group", func() bool {
		m, err := g.sentinel.Master(ctxBG, "failover").Result()
		return err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2"
	})
	return g
}

// killMaster kills the master with SIGKILL: nothing it holds is saved.
func (g *sentinelGroup) killMaster() {
	_ = g.masterCmd.Process.Kill()
	_ = g.masterCmd.Wait()
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func containsLine(s, line string) bool {
	for l := range strings.Lines(s) {
		if strings.TrimRight(l, "\r\n") == line {
			return true
		}
	}
	return false
}

// A failover under load: readers and a writer keep going while the master
// is killed and the sentinels promote the replica. Reads fail open (every
// GetOrLoad returns its value, none waits much past the operation timeout),
// the circuit breaker closes again by itself, the local tier is flushed
// while its subscription moves to the new master, and the invalidations
// that failed meanwhile are applied to the new master.
func TestFailoverUnderLoad(t *testing.T) {
	needFailoverEnvironment(t)
	g := startSentinelGroup(t)
	const opTimeout = 200 * time.Millisecond
	s := NewStore(redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "failover", SentinelAddrs: g.sentinels,
		ContextTimeoutEnabled: true}), WithOperationTimeout(opTimeout), WithCircuitBreaker(3, 200*time.Millisecond),
		WithLocalCache(1000, time.Minute))
	defer s.Close()
	c := New[string](s, "c", WithTags("t"))
	waitFor(t, 10*time.Second, "the local tier to subscribe", func() bool { return s.e.Local.Healthy() })
	load := func(context.Context) (string, error) { return "v", nil }
	for i := range 10 {
		if _, err := c.GetOrLoad(ctxBG, fmt.Sprint("k", i), load); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var readErrors, reads int
	var slowest time.Duration
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				_, err := c.GetOrLoad(ctxBG, fmt.Sprint("k", (r+i)%10), load)
				took := time.Since(start)
				mu.Lock()
				reads++
				slowest = max(slowest, took)
				if err != nil {
					readErrors++
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	var flushed atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_ = s.InvalidateTags(ctxBG, "t") // fails during the gap, and is kept
			if !s.e.Local.Healthy() {
				flushed.Store(true)
			}
		}
	}()

	time.Sleep(300 * time.Millisecond)
	g.killMaster()
	waitFor(t, 30*time.Second, "the sentinels to promote the replica", func() bool {
		addr, err := g.sentinel.GetMasterAddrByName(ctxBG, "failover").Result()
		return err == nil && net.JoinHostPort(addr[0], addr[1]) == g.replicaAddr
	})
	waitFor(t, 15*time.Second, "the Store to recover on the new master", func() bool {
		st := s.Stats()
		return !st.CircuitOpen && s.PendingInvalidations() == 0 && s.e.Local.Healthy() && s.InvalidateTags(ctxBG, "t") == nil
	})
	close(stop)
	wg.Wait()
	t.Logf("%d reads, slowest %v", reads, slowest)
	if readErrors > 0 {
		t.Fatalf("%d of %d GetOrLoad calls failed during the failover: reads must fail open", readErrors, reads)
	}
	if slowest > 3*opTimeout+time.Second {
		t.Fatalf("the slowest GetOrLoad took %v, with an operation timeout of %v", slowest, opTimeout)
	}
	if !flushed.Load() {
		t.Fatal("the local tier never stopped serving while its subscription moved to the new master")
	}
	if _, err := c.GetOrLoad(ctxBG, "k0", load); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctxBG, "k0"); err != nil || v != "v" {
		t.Fatalf("after the failover the cache does not store again: %q, %v", v, err)
	}
}
