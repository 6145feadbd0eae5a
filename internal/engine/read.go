package engine

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

// Found classifies what a read of an entry key found.
type Found uint8

// What a read found.
const (
	FoundNothing Found = iota // absent, tombstone, corrupt or foreign
	FoundStale                // built before one of its tags was invalidated
	FoundEntry                // a value or a cached not-found, all tags current
)

// Read is what one look at an entry key and the caller's tags found.
type Read struct {
	Found Found
	View  entry.View // when Found == FoundEntry; aliases the Redis reply
	Gen   string     // generation found ("" when absent or corrupt)
	Raw   string     // the stored bytes, when Found == FoundEntry
	// versions are the current versions of the tags the caller named, in
	// order ("" for a tag with no version key); nil on a hit until
	// fillVersions.
	versions []string
}

// Read looks up rkey and the versions of tags in one round trip (a second
// one only when the entry carries tags the caller did not name). Concurrent
// reads of one key share round trips (see readGroup).
func (e *Engine) Read(ctx context.Context, c *Cache, rkey string, tags TagSet) (Read, error) {
	if err := e.settle(ctx); err != nil {
		return Read{}, err
	}
	return e.reads.read(ctx, e, c, rkey, tags)
}

// readOnce is Read without sharing.
func (e *Engine) readOnce(ctx context.Context, c *Cache, rkey string, tags TagSet) (Read, error) {
	buf := newReadBuf(e.Backend, rkey, tags.Keys)
	if err := e.Backend.RunOp(ctx, buf); err != nil {
		return Read{}, err // a watchdog may still be filling buf
	}
	r, err := e.evaluate(ctx, c, rkey, buf.present(0), tagVersions{tags.Names, buf.vals[1:]})
	if r.Found == FoundEntry {
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
func (r *Read) fillVersions(names []string) {
	if r.versions != nil || r.Found != FoundEntry {
		return
	}
	r.versions = make([]string, len(names))
	for name, ver := range r.View.TagSeq() {
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

// present returns reply i as a stored value.
func (b *readBuf) present(i int) stored { return stored{raw: b.vals[i], ok: b.ok[i]} }

// release returns b for reuse, keeping none of its strings alive. It must
// not be called while a watchdog may still be running b.Do: Run returns
// early only with an error, after which b is simply dropped.
func (b *readBuf) release() {
	*b = readBuf{}
	readBufs.Put(b)
}

// tagVersions are the current versions of tags, in order.
type tagVersions struct{ names, versions []string }

// stored is a Redis reply for an entry key.
type stored struct {
	raw string
	ok  bool // the key exists
}

// evaluate classifies a stored entry against the tag versions read with it,
// fetching the versions of any other tags the entry carries.
func (e *Engine) evaluate(ctx context.Context, c *Cache, rkey string, s stored, tags tagVersions) (Read, error) {
	names, versions := tags.names, tags.versions
	r := Read{versions: versions}
	if !s.ok {
		return r, nil
	}
	v, err := entry.DecodeString(s.raw)
	if err == nil && v.Kind != entry.KindTombstone {
		err = c.foreign(&v)
	}
	if err != nil {
		e.DropCorrupt(ctx, c, rkey, s.raw, err)
		return r, nil
	}
	r.Gen = v.Gen
	if v.Kind == entry.KindTombstone {
		return r, nil
	}
	if err := e.verifyHistory(ctx); err != nil {
		return Read{}, err
	}
	if e.distrusted() || e.untrustedSince(v.Created) {
		r.Found = FoundStale
		c.Counters.StaleEntry()
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
			r.Found = FoundStale
			c.Counters.StaleEntry()
			return r, nil
		}
	}
	if len(unknown) > 0 {
		current, err := e.tagVersions(ctx, unknown)
		if err != nil {
			return Read{}, err
		}
		for name, ver := range v.TagSeq() {
			if i := indexOf(unknown, name); i >= 0 && string(ver) != current[i] {
				r.Found = FoundStale
				c.Counters.StaleEntry()
				return r, nil
			}
		}
	}
	r.Found, r.View, r.Raw = FoundEntry, v, s.raw
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
func (e *Engine) tagVersions(ctx context.Context, tags []string) ([]string, error) {
	keys := e.TagSet(tags).Keys
	vals := make([]string, len(keys))
	ok := make([]bool, len(keys))
	err := e.Backend.Run(ctx, func(ctx context.Context) error { return e.Backend.GetMany(ctx, keys, vals, ok) })
	return vals, err
}

// DropCorrupt counts a corrupt or foreign entry and deletes it, unless it
// was replaced meanwhile.
func (e *Engine) DropCorrupt(ctx context.Context, c *Cache, rkey, raw string, cause error) {
	c.Counters.Fail(metrics.OpDecode)
	e.cfg.Logger.Warn("cachefront: dropping an entry that cannot be decoded", "key", rkey, "error", cause)
	prefix := raw
	if len(prefix) > 64 {
		prefix = prefix[:64]
	}
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		return scripts.DeleteIfPrefix.Run(ctx, e.Backend.Client, []string{rkey}, prefix).Err()
	})
	if err != nil {
		c.Counters.Fail(metrics.OpDelete)
	}
}

// Snapshot is the look a shared load takes right before loading: the entry,
// the namespace's invalidation sequence, and a version for every tag the new
// entry will carry (created where missing, so that an entry never records
// "no version", which a later eviction could make true again).
type Snapshot struct {
	Read
	seq int64
	at  time.Time
}

// Snapshot takes the snapshot of rkey for a load with tags.
func (e *Engine) Snapshot(ctx context.Context, c *Cache, rkey string, tags TagSet) (Snapshot, error) {
	lk, err := e.lookBeforeLoading(ctx, []string{rkey}, tags)
	if err != nil {
		return Snapshot{at: lk.at}, err
	}
	snap := Snapshot{seq: lk.seq, at: lk.at}
	snap.Read, err = e.evaluate(ctx, c, rkey, lk.entries[0], tagVersions{tags.Names, lk.versions})
	return snap, err
}

// look is what lookBeforeLoading read.
type look struct {
	entries  []stored
	versions []string // of the tags, never ""
	seq      int64
	at       time.Time
}

// lookBeforeLoading reads entries, the invalidation sequence and a version
// for each tag (creating missing ones) in one round trip.
func (e *Engine) lookBeforeLoading(ctx context.Context, rkeys []string, tags TagSet) (look, error) {
	lk := look{at: time.Now()}
	if err := e.settle(ctx); err != nil {
		return lk, err
	}
	entryCmds := make([]*redis.StringCmd, len(rkeys))
	var seqCmd *redis.StringCmd
	var ensure tagEnsure
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		return e.Backend.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, k := range rkeys {
				entryCmds[i] = p.Get(ctx, k)
			}
			seqCmd = p.Get(ctx, e.Keys.Seq())
			ensure = e.queueEnsure(ctx, p, tags)
		})
	})
	if err != nil {
		return lk, err
	}
	lk.seq = seqOf(seqCmd.Val())
	e.checkSeq(lk.seq)
	lk.versions = e.ensured(tags, ensure)
	lk.entries = make([]stored, len(rkeys))
	for i, c := range entryCmds {
		raw, rerr := c.Result()
		lk.entries[i] = stored{raw: raw, ok: rerr == nil}
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

// FlightKey names a shared load. It includes what the caller saw (the
// entry's generation and the sequence of each tag's last invalidation), so
// that a caller who arrives after an invalidation or a delete never joins a
// load that started before it.
//
// A caller whose read failed saw nothing; it joins the load of a key that is
// absent and whose tags were never invalidated, which is what a cold key
// looks like, so that a stampede on a struggling Redis still shares loads.
// Such a load may predate an invalidation the caller could not see: a caller
// whose read failed after the load began does not take its result but
// shares a new load with the others in the same case (see Waiter).
func FlightKey(c *Cache, rkey string, r *Read, tagCount int, readFailed bool) string {
	var b strings.Builder
	b.Grow(len(rkey) + 32)
	b.WriteString(rkey)
	b.WriteByte(0)
	b.WriteString(strconv.FormatUint(uint64(c.TypeHash), 16))
	b.WriteByte(0)
	if readFailed {
		for range tagCount {
			b.WriteString("\x000")
		}
		return b.String()
	}
	b.WriteString(r.Gen)
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

// ManyRead is what ReadMany found for each key.
type ManyRead []Read

// ReadMany reads several entries and the versions of tags in one round trip
// (a second one when entries carry tags the call did not name).
func (e *Engine) ReadMany(ctx context.Context, c *Cache, rkeys []string, tags TagSet) (ManyRead, error) {
	if err := e.settle(ctx); err != nil {
		return nil, err
	}
	n := len(rkeys)
	all := make([]string, 0, n+len(tags.Keys))
	all = append(all, rkeys...)
	all = append(all, tags.Keys...)
	vals := make([]string, len(all))
	ok := make([]bool, len(all))
	if err := e.Backend.Run(ctx, func(ctx context.Context) error { return e.Backend.GetMany(ctx, all, vals, ok) }); err != nil {
		return nil, err
	}
	names, versions, err := e.completeTags(ctx, vals[:n], ok[:n], tags.Names, vals[n:])
	if err != nil {
		return nil, err
	}
	reads := make(ManyRead, n)
	for i, rk := range rkeys {
		reads[i], _ = e.evaluate(ctx, c, rk, stored{raw: vals[i], ok: ok[i]}, tagVersions{names, versions})
	}
	return reads, nil
}

// completeTags extends names and versions with the current versions of every
// other tag the raw entries carry, in one round trip, so that evaluating them
// needs no more.
func (e *Engine) completeTags(ctx context.Context, raws []string, present []bool, names, versions []string) ([]string, []string, error) {
	var extra []string
	for i, raw := range raws {
		if !present[i] {
			continue
		}
		v, err := entry.DecodeString(raw)
		if err != nil {
			continue
		}
		for name := range v.TagSeq() {
			if indexOf(names, name) < 0 && indexOf(extra, name) < 0 {
				extra = append(extra, string(name))
			}
		}
	}
	if len(extra) == 0 {
		return names, versions, nil
	}
	current, err := e.tagVersions(ctx, extra)
	if err != nil {
		return nil, nil, err
	}
	return append(names[:len(names):len(names)], extra...), append(versions[:len(versions):len(versions)], current...), nil
}
