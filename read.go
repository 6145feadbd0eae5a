package cachefront

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// found classifies what a read of an entry key found.
type found uint8

const (
	foundNothing found = iota // absent, tombstone, corrupt or foreign
	foundStale                // built before one of its tags was invalidated
	foundEntry                // a value or a cached not-found, all tags current
)

// readResult is what one look at an entry key and the caller's tags found.
type readResult struct {
	found found
	view  entry.View // when found == foundEntry; aliases the Redis reply
	gen   string     // generation found ("" when absent or corrupt)
	raw   string     // the stored bytes, when found == foundEntry
	// versions are the current versions of the tags the caller named, in
	// order ("" for a tag with no version key).
	versions []string
}

// tagSet is a list of tags with their version keys.
type tagSet struct {
	names []string
	keys  []string
}

func (s *Store) tagSet(names []string) tagSet {
	ts := tagSet{names: names, keys: make([]string, len(names))}
	for i, n := range names {
		ts.keys[i] = s.keys.Tag(n)
	}
	return ts
}

// read looks up rkey and the versions of tags in one round trip (a second
// one only when the entry carries tags the caller did not name). Concurrent
// reads of one key share round trips (see readGroup).
func (s *Store) read(ctx context.Context, cc *metrics.Counters, rkey string, tags tagSet, typeHash uint32) (readResult, error) {
	return s.reads.read(ctx, s, cc, rkey, tags, typeHash)
}

// readOnce is read without sharing.
func (s *Store) readOnce(ctx context.Context, cc *metrics.Counters, rkey string, tags tagSet, typeHash uint32) (readResult, error) {
	buf := newReadBuf(s.be, rkey, tags.keys)
	if err := s.be.RunOp(ctx, buf); err != nil {
		return readResult{}, err // a watchdog may still be filling buf
	}
	r, err := s.evaluate(ctx, cc, rkey, buf.vals[0], buf.ok[0], tags.names, buf.vals[1:], typeHash)
	if r.found == foundEntry {
		// A hit's tag versions are the ones its entry records; see
		// fillVersions.
		r.versions = nil
	} else {
		r.versions = slices.Clone(r.versions)
	}
	buf.release()
	return r, err
}

// fillVersions sets the current versions of names on a hit, where they are
// the versions the entry recorded (which is what made it a hit).
func (r *readResult) fillVersions(names []string) {
	if r.versions != nil || r.found != foundEntry {
		return
	}
	r.versions = make([]string, len(names))
	for name, ver := range r.view.TagSeq() {
		if i := indexOf(names, name); i >= 0 {
			r.versions[i] = string(ver)
		}
	}
}

// readBuf is one read's operation: its keys and replies, reused from read
// to read for the common case of up to three tags.
type readBuf struct {
	be             *backend.Backend
	keys, vals     []string
	ok             []bool
	keyArr, valArr [4]string
	okArr          [4]bool
}

var readBufs = sync.Pool{New: func() any { return new(readBuf) }}

func newReadBuf(be *backend.Backend, rkey string, tagKeys []string) *readBuf {
	b := readBufs.Get().(*readBuf)
	b.be = be
	n := 1 + len(tagKeys)
	if n <= len(b.keyArr) {
		b.keys, b.vals, b.ok = b.keyArr[:n], b.valArr[:n], b.okArr[:n]
	} else {
		b.keys, b.vals, b.ok = make([]string, n), make([]string, n), make([]bool, n)
	}
	b.keys[0] = rkey
	copy(b.keys[1:], tagKeys)
	return b
}

// Do reads the keys, for backend.RunOp.
func (b *readBuf) Do(ctx context.Context) error { return b.be.GetMany(ctx, b.keys, b.vals, b.ok) }

// release returns b for reuse, keeping none of its strings alive. It must
// not be called while a watchdog may still be running b.Do: Run returns
// early only with an error, after which b is simply dropped.
func (b *readBuf) release() {
	*b = readBuf{}
	readBufs.Put(b)
}

// evaluate classifies a raw entry against the tag versions read with it,
// fetching the versions of any other tags the entry carries.
func (s *Store) evaluate(ctx context.Context, cc *metrics.Counters, rkey, raw string, present bool, names, versions []string, typeHash uint32) (readResult, error) {
	r := readResult{versions: versions}
	if !present {
		return r, nil
	}
	v, err := entry.DecodeString(raw)
	if err == nil && v.Kind != entry.KindTombstone && v.TypeHash != typeHash {
		err = entry.ErrCorrupt
	}
	if err != nil {
		s.dropCorrupt(ctx, cc, rkey, raw, err)
		return r, nil
	}
	r.gen = v.Gen
	if v.Kind == entry.KindTombstone {
		return r, nil
	}
	var unknown []string
	for name, ver := range v.TagSeq() {
		i := indexOf(names, name)
		if i < 0 {
			unknown = append(unknown, string(name))
			continue
		}
		if string(ver) != versions[i] {
			r.found = foundStale
			cc.StaleEntry()
			return r, nil
		}
	}
	if len(unknown) > 0 {
		current, err := s.tagVersions(ctx, unknown)
		if err != nil {
			return readResult{}, err
		}
		for name, ver := range v.TagSeq() {
			if i := indexOf(unknown, name); i >= 0 && string(ver) != current[i] {
				r.found = foundStale
				cc.StaleEntry()
				return r, nil
			}
		}
	}
	r.found, r.view, r.raw = foundEntry, v, raw
	return r, nil
}

func indexOf(names []string, name []byte) int {
	for i, n := range names {
		if n == string(name) {
			return i
		}
	}
	return -1
}

// tagVersions reads the current versions of tags ("" for none).
func (s *Store) tagVersions(ctx context.Context, tags []string) ([]string, error) {
	keys := s.tagSet(tags).keys
	vals := make([]string, len(keys))
	ok := make([]bool, len(keys))
	err := s.be.Run(ctx, func(ctx context.Context) error { return s.be.GetMany(ctx, keys, vals, ok) })
	return vals, err
}

// dropCorrupt counts a corrupt or foreign entry and deletes it, unless it was
// replaced meanwhile.
func (s *Store) dropCorrupt(ctx context.Context, cc *metrics.Counters, rkey, raw string, cause error) {
	cc.Fail(metrics.OpDecode)
	s.cfg.logger.Warn("cachefront: dropping an entry that cannot be decoded", "key", rkey, "error", cause)
	prefix := raw
	if len(prefix) > 64 {
		prefix = prefix[:64]
	}
	err := s.be.Run(ctx, func(ctx context.Context) error {
		return scripts.DeleteIfPrefix.Run(ctx, s.be.Client, []string{rkey}, prefix).Err()
	})
	if err != nil {
		cc.Fail(metrics.OpDelete)
	}
}

// snapshot is the look a shared load takes right before calling the loader:
// the entry, the namespace's invalidation sequence, and a version for every
// tag the new entry will carry (created where missing, so that an entry never
// records "no version", which a later eviction could make true again).
type snapshot struct {
	readResult
	seq int64
	at  time.Time
}

func (s *Store) snapshot(ctx context.Context, cc *metrics.Counters, rkey string, tags tagSet, typeHash uint32) (snapshot, error) {
	look, err := s.lookBeforeLoading(ctx, []string{rkey}, tags)
	if err != nil {
		return snapshot{at: look.at}, err
	}
	snap := snapshot{seq: look.seq, at: look.at}
	snap.readResult, err = s.evaluate(ctx, cc, rkey, look.raws[0], look.present[0], tags.names, look.versions, typeHash)
	return snap, err
}

// look is what lookBeforeLoading read.
type look struct {
	raws     []string
	present  []bool
	versions []string // of the tags, never ""
	seq      int64
	at       time.Time
}

// lookBeforeLoading reads entries, the invalidation sequence and a version
// for each tag (creating missing ones) in one round trip.
func (s *Store) lookBeforeLoading(ctx context.Context, rkeys []string, tags tagSet) (look, error) {
	lk := look{at: time.Now()}
	entryCmds := make([]*redis.StringCmd, len(rkeys))
	tagCmds := make([]*redis.StringCmd, len(tags.keys))
	var seqCmd *redis.StringCmd
	fresh := "0:" + entry.NewGen()
	err := s.be.Run(ctx, func(ctx context.Context) error {
		return s.be.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, k := range rkeys {
				entryCmds[i] = p.Get(ctx, k)
			}
			seqCmd = p.Get(ctx, s.keys.Seq())
			for i, k := range tags.keys {
				p.SetNX(ctx, k, fresh, s.cfg.tagTTL)
				p.PExpire(ctx, k, s.cfg.tagTTL) // a tag in use never expires
				tagCmds[i] = p.Get(ctx, k)
			}
		})
	})
	if err != nil {
		return lk, err
	}
	lk.seq = seqOf(seqCmd.Val())
	lk.versions = make([]string, len(tags.keys))
	for i, c := range tagCmds {
		lk.versions[i] = c.Val()
	}
	s.seen.Learn(tags.names, lk.versions, time.Now().UnixMilli())
	lk.raws = make([]string, len(rkeys))
	lk.present = make([]bool, len(rkeys))
	for i, c := range entryCmds {
		raw, rerr := c.Result()
		lk.raws[i], lk.present[i] = raw, rerr == nil
	}
	return lk, nil
}

// seqOf returns the invalidation sequence number in a tag version
// "<seq>:<random>" (0 for none).
func seqOf(version string) int64 {
	n, _, _ := strings.Cut(version, ":")
	seq, _ := strconv.ParseInt(n, 10, 64)
	return seq
}

// flightKey names a shared load. It includes what the caller saw (the
// entry's generation and the sequence of each tag's last invalidation), so
// that a caller who arrives after an invalidation or a delete never joins a
// load that started before it.
//
// A caller whose read failed saw nothing; it joins the load of a key that is
// absent and whose tags were never invalidated, which is what a cold key
// looks like, so that a stampede on a struggling Redis still shares loads.
// Such a load may predate an invalidation the caller could not see: a caller
// whose read failed after the load began does not take its result but
// shares a new load with the others in the same case (see loadShared).
func flightKey(rkey string, typeHash uint32, r *readResult, tagCount int, readFailed bool) string {
	var b strings.Builder
	b.Grow(len(rkey) + 32)
	b.WriteString(rkey)
	b.WriteByte(0)
	b.WriteString(strconv.FormatUint(uint64(typeHash), 16))
	b.WriteByte(0)
	if readFailed {
		for range tagCount {
			b.WriteString("\x000")
		}
		return b.String()
	}
	b.WriteString(r.gen)
	if len(r.versions) != tagCount {
		// What the caller saw of its tags is not known (an entry that did
		// not decode): join no one.
		b.WriteString("\x00once:")
		b.WriteString(entry.NewGen())
		return b.String()
	}
	for _, v := range r.versions {
		b.WriteByte(0)
		b.WriteString(strconv.FormatInt(seqOf(v), 10))
	}
	return b.String()
}
