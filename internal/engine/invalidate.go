package engine

import (
	"context"
	"strconv"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// InvalidateTags gives each of names (valid, without repeats) a new version
// and tells every instance. Tags Redis did not take are kept and applied
// again in the background.
func (e *Engine) InvalidateTags(ctx context.Context, names []string) error {
	if err := e.invalidateTags(ctx, names); err != nil {
		e.StoreOps.Fail(metrics.OpInvalidate)
		e.Local.Apply(local.Event{Tags: names})
		e.failed(pendingTag, names)
		return err
	}
	return nil
}

// invalidateTags gives each tag a new version and tells every instance.
//
// On a single server one script does it all, the event published after the
// versions are set. On a sharded client it takes a sequence number, then
// sets each tag's version with a script that never replaces a newer one
// (the writes of two invalidations of one tag may reach its node in either
// order), and only once those writes are acknowledged publishes the event:
// published with them, it could reach another instance before the new
// versions reach their nodes, and that instance would read the old entry
// again and keep it for its whole local TTL.
func (e *Engine) invalidateTags(ctx context.Context, names []string) error {
	ts := e.TagSet(names)
	suffix := entry.NewGen()
	ev := local.Event{Tags: ts.Names}
	var version string    // every tag's new version, on a single server
	var versions []string // each tag's version afterwards, on a sharded client
	var err error
	if e.acking() {
		var event []any
		if data, err := local.EncodeEvent(ev); err == nil {
			event = []any{e.Keys.Events(), data}
		}
		version, versions, err = e.invalidateTagsAcked(ctx, ts, suffix, event)
		if err == nil && !e.Backend.Single {
			err = e.Backend.Run(ctx, func(ctx context.Context) error { return e.publishNow(ctx, ev) })
		}
	} else {
		version, versions, err = e.invalidateTagsNow(ctx, ts, suffix, ev)
	}
	if err != nil {
		e.seen.Forget(ts.Names)
		return err
	}
	if versions != nil {
		e.seen.Learn(ts.Names, versions, time.Now().UnixMilli())
		for _, v := range versions {
			e.noteSeq(seqOf(v))
		}
	} else {
		e.seen.LearnAll(ts.Names, version, time.Now().UnixMilli())
		e.noteSeq(seqOf(version))
	}
	e.Local.Apply(ev)
	e.invalidations.Add(uint64(len(ts.Names)))
	e.tagInvalidations.Add(float64(len(ts.Names)))
	return nil
}

// invalidateTagsNow is invalidateTags's Redis work when invalidations do
// not wait for replicas. It returns the new version (single server) or
// each tag's version.
func (e *Engine) invalidateTagsNow(ctx context.Context, ts TagSet, suffix string, ev local.Event) (string, []string, error) {
	tagTTL := e.cfg.TagTTL
	var version string
	var versions []string
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		if e.Backend.Single {
			keys := append([]string{e.Keys.Seq()}, ts.Keys...)
			args := []any{tagTTL.Milliseconds(), suffix}
			if data, err := local.EncodeEvent(ev); err == nil {
				args = append(args, e.Keys.Events(), data)
			}
			seq, err := scripts.Invalidate.Run(ctx, e.Backend.Client, keys, args...).Int64()
			version = strconv.FormatInt(seq, 10) + ":" + suffix
			return err
		}
		seq, err := e.Backend.Client.Incr(ctx, e.Keys.Seq()).Result()
		if err != nil {
			return err
		}
		newVersion := strconv.FormatInt(seq, 10) + ":" + suffix
		cmds := make([]*redis.Cmd, len(ts.Keys))
		err = e.Backend.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, k := range ts.Keys {
				cmds[i] = scripts.SetVersion.Eval(ctx, p, []string{k}, newVersion, seq, tagTTL.Milliseconds())
			}
		})
		if err != nil {
			return err
		}
		versions = make([]string, len(cmds))
		for i, c := range cmds {
			versions[i], _ = c.Text()
		}
		return e.publishNow(ctx, ev)
	})
	if err != nil {
		// A watchdog may still be running the closure: read nothing it writes.
		return "", nil, err
	}
	return version, versions, nil
}

// Delete replaces each entry key with a tombstone and tells every instance.
// Keys Redis did not take are kept and deleted again in the background; c
// counts the failure.
func (e *Engine) Delete(ctx context.Context, c *Cache, rkeys []string) error {
	if err := e.deleteEntries(ctx, rkeys); err != nil {
		counters := e.StoreOps
		if c != nil {
			counters = c.Counters
		}
		counters.Fail(metrics.OpDelete)
		e.failed(pendingDelete, rkeys)
		return err
	}
	return nil
}

// deleteEntries replaces each key with a tombstone, in one round trip (and
// a WAIT for replicas with ReplicaAck), and tells every instance.
func (e *Engine) deleteEntries(ctx context.Context, rkeys []string) error {
	ev := local.Event{Keys: rkeys}
	var err error
	if e.acking() {
		err = e.deleteEntriesAcked(ctx, rkeys, tombstone, ev)
	} else {
		err = e.Backend.Run(ctx, func(ctx context.Context) error {
			ttl := e.TombstoneTTL()
			err := e.Backend.Pipelined(ctx, func(p redis.Pipeliner) {
				for _, k := range rkeys {
					p.Set(ctx, k, tombstone(), ttl)
				}
				if e.Backend.Single {
					e.publish(ctx, p, ev) // one server runs it after the tombstones
				}
			})
			if err != nil || e.Backend.Single {
				return err
			}
			return e.publishNow(ctx, ev)
		})
	}
	e.Local.Apply(ev)
	if err != nil {
		return err
	}
	e.deletes.Add(uint64(len(rkeys)))
	e.keyDeletions.Add(float64(len(rkeys)))
	return nil
}

// tombstone returns the entry a delete leaves under a key: a new
// generation, so that loads that saw the key before cannot store over it.
func tombstone() []byte {
	h := newHeader(nil, entry.KindTombstone, nil, time.Now())
	data, _ := entry.Encode(nil, &h.Header, nil)
	return data
}

// AnnounceSet tells the other instances' local tiers that rkey changed.
// An announcement Redis did not take is kept and published again in the
// background (see PendingInvalidations), so other instances keep the old
// value for at most the retry delay, not their whole local TTL.
func (e *Engine) AnnounceSet(ctx context.Context, rkey string) {
	if e.Local == nil {
		return
	}
	ev := local.Event{Keys: []string{rkey}}
	e.Local.Apply(ev)
	if err := e.Backend.Run(ctx, func(ctx context.Context) error { return e.publishNow(ctx, ev) }); err != nil {
		e.StoreOps.Fail(metrics.OpWrite)
		e.queuePending(pendingAnnouncement, ev.Keys)
	}
}

// publish queues on p the event that tells every instance (this one
// included) what changed; see local.Publish for when it may travel with the
// change.
func (e *Engine) publish(ctx context.Context, p redis.Pipeliner, ev local.Event) {
	_, cluster := e.Backend.Client.(*redis.ClusterClient)
	local.Publish(ctx, p, cluster, e.Keys.Events(), ev)
}

// publishNow publishes ev in a round trip of its own, for a change Redis has
// already acknowledged.
func (e *Engine) publishNow(ctx context.Context, ev local.Event) error {
	return e.Backend.Pipelined(ctx, func(p redis.Pipeliner) { e.publish(ctx, p, ev) })
}
