package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/cachefront/cachefront/internal/compress"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/topkeys"
)

// ErrNotFound reports a key that is not in the cache, or, from a loader,
// an item the source does not have.
var ErrNotFound = errors.New("cachefront: not found")

// Cache is the engine's side of one typed cache or middleware: its name,
// the hash of its value type, its counters and how its values become bytes.
type Cache struct {
	Name     string
	TypeHash uint32
	// Codec is the entry.NameHash of the codec's name; 0 stands for
	// entry.MsgpackCodec.
	Codec uint32
	// Compression compresses payloads of at least CompressMin bytes.
	Compression compress.Algorithm
	CompressMin int
	Counters    *metrics.Counters
	Top         *topkeys.Counter // nil without WithTopKeys
	// Encode appends the encoding of a value to buf, which is empty.
	Encode func(buf *bytes.Buffer, v any) error
	// Decode decodes a stored payload; raw is the Redis reply it aliases
	// (payloads may be decoded without copying).
	Decode func(payload []byte, raw string) (any, error)
	// Saved, for values that compress part of themselves (the
	// middleware's responses, whose bodies it compresses), returns the
	// bytes that saved, so that the byte counters show it; nil for none.
	// Reads count the same through the middleware's decoder.
	Saved func(v any) int
	// KeepsPayload says that Decode keeps slices of the payload it is
	// given (the middleware's responses alias it): a decompressed payload
	// then gets a buffer of its own rather than a pooled one.
	KeepsPayload bool
	// OnlyFresh, for the middleware's responses, makes a miss of an entry
	// past its TTL (which Redis may still hold for stale-while-revalidate)
	// and of a cached not-found (which the middleware never stores).
	OnlyFresh bool
}

// Usable reports whether an entry (or a local-tier copy) of the cache may
// be served: for an OnlyFresh cache, only a value within its TTL.
func (c *Cache) Usable(notFound bool, freshUntil int64) bool {
	return !c.OnlyFresh || !notFound && freshUntil > time.Now().UnixMilli()
}

// codec is c.Codec with 0 read as msgpack.
func (c *Cache) codec() uint32 {
	if c.Codec == 0 {
		return entry.MsgpackCodec
	}
	return c.Codec
}

// foreign reports why the entry v was not written by c, or nil when it
// was: an entry of another type, another codec or another compression
// (uncompressed payloads are every cache's) is not decoded.
func (c *Cache) foreign(v *entry.View) error {
	switch {
	case v.TypeHash != c.TypeHash:
		return fmt.Errorf("%w: written for another type", entry.ErrCorrupt)
	case v.Codec != c.codec():
		return fmt.Errorf("%w: written by another codec", entry.ErrCorrupt)
	case v.Compression != byte(compress.None) && v.Compression != byte(c.Compression):
		return fmt.Errorf("%w: compressed with %s, the cache uses %s", entry.ErrCorrupt,
			compress.Algorithm(v.Compression), c.Compression)
	}
	return nil
}

// Opened is the payload of an entry ready to decode: Payload, and Raw, the
// string it aliases (the Redis reply, or the decompressed bytes). Release
// it once the payload is decoded.
type Opened struct {
	Payload []byte
	Raw     string
	buf     *[]byte // the pooled buffer Payload lies in, if any
}

// Release hands the decompression buffer back; o must not be used after.
func (o *Opened) Release() {
	if o.buf != nil {
		*o.buf = (*o.buf)[:0]
		decompressBuffers.Put(o.buf)
		o.buf = nil
	}
}

// decompressBuffers hold decompressed payloads while they are decoded.
// Codecs do not keep data past Unmarshal, so a buffer serves again; buffers
// over maxPooledBuffer are left to the collector.
var decompressBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBuffer = 4 << 20

// Open returns the payload of v, an entry of c read in the Redis reply
// raw, decompressed if it was stored compressed, and counts the bytes
// read. A payload that does not decompress is an error wrapping
// entry.ErrCorrupt.
func (c *Cache) Open(v *entry.View, raw string) (Opened, error) {
	o := Opened{Payload: v.Payload, Raw: raw}
	if v.Compression != byte(compress.None) {
		var buf *[]byte
		var dst []byte
		if !c.KeepsPayload {
			buf = decompressBuffers.Get().(*[]byte)
			dst = *buf
		}
		out, err := compress.Decompress(dst, v.Payload, compress.Algorithm(v.Compression))
		if err != nil {
			if buf != nil {
				decompressBuffers.Put(buf)
			}
			return Opened{}, fmt.Errorf("%w: %w", entry.ErrCorrupt, err)
		}
		o.Payload, o.Raw = out, unsafe.String(unsafe.SliceData(out), len(out))
		if buf != nil && cap(out) <= maxPooledBuffer {
			*buf, o.buf = out, buf
		}
	}
	c.Counters.Read(len(v.Payload), len(o.Payload))
	return o, nil
}

// Call is the resolved configuration of one call.
type Call struct {
	TTL         time.Duration
	Jitter      float64
	NegativeTTL time.Duration
	LoadTimeout time.Duration
	SWR         time.Duration
	EarlyBeta   float64
	Tags        TagSet
}

// TagSet is a list of tags with their version keys.
type TagSet struct {
	Names []string
	Keys  []string // nil until built (see Call.TagSet)
}

// TagSet returns the tags of names with their version keys.
func (e *Engine) TagSet(names []string) TagSet {
	ts := TagSet{Names: names, Keys: make([]string, len(names))}
	for i, n := range names {
		ts.Keys[i] = e.Keys.Tag(n)
	}
	return ts
}

// TagSet returns the call's tags with their version keys, built on first
// use: a hit from the local tier never needs them. A configuration shared
// by concurrent calls must have them built before it is shared.
func (c *Call) TagSet(e *Engine) TagSet {
	if c.Tags.Keys == nil && len(c.Tags.Names) > 0 {
		c.Tags = e.TagSet(c.Tags.Names)
	}
	return c.Tags
}

// Remembered is what the local tier keeps of an entry.
type Remembered struct {
	Value      any
	NotFound   bool
	Tags       []string
	Created    int64 // Unix ms
	FreshUntil int64
}

// Remember puts a value read or loaded from Redis in the in-process tier,
// unless an invalidation arrived since epoch was taken (local.Tier.EpochNow).
func (e *Engine) Remember(c *Cache, rkey string, r Remembered, epoch uint64) {
	if e.Local == nil {
		return
	}
	le := &local.Entry{Value: r.Value, NotFound: r.NotFound, TypeHash: c.TypeHash, Tags: r.Tags, Created: r.Created}
	e.Local.Put(rkey, le, epoch, r.FreshUntil)
}

// RememberView is Remember for an entry read from Redis.
func (e *Engine) RememberView(c *Cache, rkey string, v *entry.View, value any, epoch uint64) {
	if e.Local == nil {
		return
	}
	e.Remember(c, rkey, Remembered{Value: value, NotFound: v.Kind == entry.KindNotFound, Tags: v.TagNames(),
		Created: v.Created, FreshUntil: v.FreshUntil}, epoch)
}

// rememberStored is Remember for an entry this process just stored.
func (e *Engine) rememberStored(c *Cache, rkey string, h *entry.Header, value any, epoch uint64) {
	if e.Local == nil || h == nil {
		return
	}
	names := make([]string, len(h.Tags))
	for i, t := range h.Tags {
		names[i] = t.Name
	}
	e.Remember(c, rkey, Remembered{Value: value, NotFound: h.Kind == entry.KindNotFound, Tags: names,
		Created: h.Created, FreshUntil: h.FreshUntil}, epoch)
}
