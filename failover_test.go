package cachefront

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	if _, err := exec.LookPath("redis-server"); err != nil || os.Getenv("CACHEFRONT_SENTINEL_ADDRS") == "" {
		t.Skip("needs redis-server and a Sentinel environment (CACHEFRONT_SENTINEL_ADDRS, as .ci/run sets)")
	}
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
