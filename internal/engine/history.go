package engine

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Redis restarted from a snapshot older than its last writes, or a
// replica promoted before it had them, has gone back in time: tag versions
// that invalidations replaced are current again, and the entries built
// before those invalidations are valid again. The namespace's invalidation
// sequence goes back with them. The engine remembers the highest sequence
// it has seen (its own invalidations, the snapshots of its loads); when
// Redis shows a lower one, at a load or at the first entry read after any
// Redis failure, it stops trusting every entry created before that moment
// (notBefore): they are read as invalidated, and loads replace them.

// noteSeq remembers seq as seen.
func (e *Engine) noteSeq(seq int64) {
	for {
		seen := e.seqSeen.Load()
		if seq <= seen || e.seqSeen.CompareAndSwap(seen, seq) {
			return
		}
	}
}

// checkSeq compares the sequence Redis holds now with the highest seen.
func (e *Engine) checkSeq(current int64) {
	if seen := e.seqSeen.Load(); current < seen {
		e.notBefore.Store(time.Now().UnixMilli())
		e.seqSeen.Store(current)
		e.cfg.Logger.Warn("cachefront: redis lost invalidations (restored from an older snapshot, or failed over to a replica without them); entries created before now are no longer served",
			"namespace", e.cfg.Namespace, "sequence_seen", seen, "sequence_now", current)
		return
	}
	e.noteSeq(current)
}

// untrustedSince reports whether an entry created at created (Unix ms)
// predates Redis going back in time.
func (e *Engine) untrustedSince(created int64) bool {
	nb := e.notBefore.Load()
	return nb != 0 && created < nb
}

// verifyHistory checks the sequence Redis holds, once after any failure
// (a restart or a failover shows as one) and before the next entry read is
// served, once for all the reads that find one meanwhile. Its error is the
// read's: an entry is not served unchecked.
func (e *Engine) verifyHistory(ctx context.Context) error {
	if !e.historyUnverified.Load() {
		return nil
	}
	_, err, _ := e.settling.Do("history", func() (any, error) {
		e.historyUnverified.Store(false)
		var raw string
		err := e.Backend.Run(ctx, func(ctx context.Context) error {
			v, err := e.Backend.Client.Get(ctx, e.Keys.Seq()).Result()
			if err == redis.Nil {
				err = nil
			}
			raw = v
			return err
		})
		if err != nil {
			e.historyUnverified.Store(true)
			return nil, err
		}
		seq, _ := strconv.ParseInt(raw, 10, 64)
		e.checkSeq(seq)
		return nil, nil
	})
	return err
}
