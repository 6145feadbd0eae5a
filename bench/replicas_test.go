package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
)

// BenchmarkPairedReplicaAck times InvalidateTags of one tag with
// WithReplicaAck(1, 1s) against the same without it, on the Sentinel group
// of CACHEFRONT_SENTINEL_ADDRS (scripts/redis-sentinel.sh: a master and one
// replica on loopback), and Delete of one key the same way.
func BenchmarkPairedReplicaAck(b *testing.B) {
	addrs := os.Getenv("CACHEFRONT_SENTINEL_ADDRS")
	if addrs == "" {
		b.Skip("set CACHEFRONT_SENTINEL_ADDRS (scripts/redis-sentinel.sh start)")
	}
	master := os.Getenv("CACHEFRONT_SENTINEL_MASTER")
	if master == "" {
		master = "cachefront"
	}
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: strings.Split(addrs, ","),
		ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	plain := PageStore(rdb, "ackbench-plain"+runID())
	acked := PageStore(rdb, "ackbench-acked"+runID(), cachefront.WithReplicaAck(1, time.Second))
	b.Cleanup(func() { _ = plain.Close(); _ = acked.Close() })
	b.Run("op=invalidate/ref=no-ack/lib=ack-1", func(b *testing.B) {
		paired(b, func() error { return plain.InvalidateTags(ctx, "t") }, func() error { return acked.InvalidateTags(ctx, "t") })
	})
	b.Run("op=delete/ref=no-ack/lib=ack-1", func(b *testing.B) {
		i := 0
		paired(b, func() error { i++; return plain.Delete(ctx, "c:k"+strconv.Itoa(i%100)) },
			func() error { return acked.Delete(ctx, "c:k"+strconv.Itoa(i%100)) })
	})
}
