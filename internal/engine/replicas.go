package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// Replica acknowledgement (WithReplicaAck). Redis replicates
// asynchronously: an invalidation the master took can be lost with it if it
// fails before a replica has it, and the promoted replica then holds the old
// tag versions, under which entries built before the invalidation are valid
// again. With ReplicaAck set, an invalidation (tag versions, tombstones) is
// sent with WAIT on the same connection, on every master it wrote to, and
// counts as done only when enough replicas acknowledged it in time;
// otherwise it fails like one Redis refused (ErrUnavailable) and is kept
// and applied again (pending.go).

// ReplicaAck is how many replicas must acknowledge an invalidation, and
// for how long to wait for them.
type ReplicaAck struct {
	Replicas int
	Timeout  time.Duration
}

// errNotReplicated reports an invalidation that too few replicas
// acknowledged in time.
var errNotReplicated = errors.New("cachefront: invalidation not acknowledged by enough replicas")

// acking reports whether invalidations wait for replicas.
func (e *Engine) acking() bool { return e.cfg.ReplicaAck.Replicas > 0 }

// queueWait adds WAIT to p, on the connection that carries p's writes.
func (e *Engine) queueWait(ctx context.Context, p redis.Pipeliner) *redis.Cmd {
	return p.Do(ctx, "WAIT", e.cfg.ReplicaAck.Replicas, e.cfg.ReplicaAck.Timeout.Milliseconds())
}

// runAcked runs write on each node under the operation timeout plus the
// replica timeout: write queues one node's writes on p, and the writes are
// followed by WAIT on the same connection. nodes are the masters the writes
// go to (one, the client itself, on a single server). It returns
// ErrUnavailable wrapping errNotReplicated when a node's replicas did not
// all acknowledge in time; a slow replica does not count against Redis
// (the circuit breaker).
func (e *Engine) runAcked(ctx context.Context, nodes []redis.Cmdable, write func(node int, p redis.Pipeliner)) error {
	acks := make([]int64, len(nodes))
	err := e.Backend.RunLonger(ctx, e.cfg.ReplicaAck.Timeout, func(ctx context.Context) error {
		for i, n := range nodes {
			var wait *redis.Cmd
			_, err := n.Pipelined(ctx, func(p redis.Pipeliner) error {
				write(i, p)
				wait = e.queueWait(ctx, p)
				return nil
			})
			if err != nil {
				return err
			}
			if acks[i], err = wait.Int64(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, n := range acks {
		if n < int64(e.cfg.ReplicaAck.Replicas) {
			return backend.Unavailable(fmt.Errorf("%w: %d of %d on master %d within %v", errNotReplicated, n,
				e.cfg.ReplicaAck.Replicas, i, e.cfg.ReplicaAck.Timeout))
		}
	}
	return nil
}

// mastersOf groups keys by the master that holds them: one group, the
// client, on a single server.
func (e *Engine) mastersOf(ctx context.Context, keys []string) (nodes []redis.Cmdable, groups [][]string, err error) {
	cc, ok := e.Backend.Client.(*redis.ClusterClient)
	if !ok {
		return []redis.Cmdable{e.Backend.Client}, [][]string{keys}, nil
	}
	index := map[*redis.Client]int{}
	for _, k := range keys {
		node, err := cc.MasterForKey(ctx, k)
		if err != nil {
			return nil, nil, backend.Unavailable(err)
		}
		i, seen := index[node]
		if !seen {
			i = len(nodes)
			index[node] = i
			nodes = append(nodes, node)
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], k)
	}
	return nodes, groups, nil
}

// invalidateTagsAcked is invalidateTags's Redis work with replica
// acknowledgement: on a single server the script, then WAIT; on a cluster
// the sequence and then each master's tag versions, each followed by WAIT.
// It returns the new version (single server) or each tag's version.
func (e *Engine) invalidateTagsAcked(ctx context.Context, ts TagSet, suffix string, event []any) (version string, versions []string, err error) {
	tagTTL := e.cfg.TagTTL.Milliseconds()
	if e.Backend.Single {
		var cmd *redis.Cmd
		keys := append([]string{e.Keys.Seq()}, ts.Keys...)
		args := append([]any{tagTTL, suffix}, event...)
		err = e.runAcked(ctx, []redis.Cmdable{e.Backend.Client}, func(_ int, p redis.Pipeliner) {
			cmd = scripts.Invalidate.Eval(ctx, p, keys, args...)
		})
		if err != nil {
			return "", nil, err
		}
		seq, err := cmd.Int64()
		return strconv.FormatInt(seq, 10) + ":" + suffix, nil, err
	}
	seqNodes, _, err := e.mastersOf(ctx, []string{e.Keys.Seq()})
	if err != nil {
		return "", nil, err
	}
	var incr *redis.IntCmd
	if err = e.runAcked(ctx, seqNodes, func(_ int, p redis.Pipeliner) { incr = p.Incr(ctx, e.Keys.Seq()) }); err != nil {
		return "", nil, err
	}
	seq := incr.Val()
	newVersion := strconv.FormatInt(seq, 10) + ":" + suffix
	nodes, groups, err := e.mastersOf(ctx, ts.Keys)
	if err != nil {
		return "", nil, err
	}
	cmds := map[string]*redis.Cmd{}
	err = e.runAcked(ctx, nodes, func(i int, p redis.Pipeliner) {
		for _, k := range groups[i] {
			cmds[k] = scripts.SetVersion.Eval(ctx, p, []string{k}, newVersion, seq, tagTTL)
		}
	})
	if err != nil {
		return "", nil, err
	}
	versions = make([]string, len(ts.Keys))
	for i, k := range ts.Keys {
		versions[i], _ = cmds[k].Text()
	}
	return "", versions, nil
}

// deleteEntriesAcked writes tombstones with replica acknowledgement, each
// master's followed by WAIT, and publishes ev: on a single server in the
// same round trip, on a cluster once every master acknowledged.
func (e *Engine) deleteEntriesAcked(ctx context.Context, rkeys []string, tombstone func() []byte, ev local.Event) error {
	nodes, groups, err := e.mastersOf(ctx, rkeys)
	if err != nil {
		return err
	}
	ttl := e.TombstoneTTL()
	err = e.runAcked(ctx, nodes, func(i int, p redis.Pipeliner) {
		for _, k := range groups[i] {
			p.Set(ctx, k, tombstone(), ttl)
		}
		if e.Backend.Single {
			e.publish(ctx, p, ev)
		}
	})
	if err != nil || e.Backend.Single {
		return err
	}
	return e.Backend.Run(ctx, func(ctx context.Context) error { return e.publishNow(ctx, ev) })
}
