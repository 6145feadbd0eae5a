package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/cachefront/cachefront/internal/compress"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/testbackend"
)

// A compressing cache stores long payloads compressed and reads them back
// through Open; the counters see both sizes.
func TestSealAndOpen(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		e := newTestEngine(t, b)
		c := stringCache(e, "c")
		c.Compression, c.CompressMin = compress.S2, 100
		long, short := strings.Repeat("compressible ", 100), "short"
		for _, v := range []string{long, short} {
			set(t, e, c, "k"+v[:1], v, testCall(e))
			r, err := e.Read(ctxBG, c, "k"+v[:1], TagSet{})
			if err != nil || r.Found != FoundEntry {
				t.Fatalf("Read = %v, %v", r.Found, err)
			}
			if compressed := r.View.Compression != 0; compressed != (v == long) {
				t.Fatalf("%d bytes stored compressed = %v", len(v), compressed)
			}
			opened, err := c.Open(&r.View, r.Raw)
			if err != nil || string(opened.Payload) != v {
				t.Fatalf("Open = %d bytes, %v", len(opened.Payload), err)
			}
			opened.Release()
		}
		n := c.Counters.Snapshot()
		if n.BytesWrittenUncompressed != uint64(len(long)+len(short)) || n.BytesWritten >= n.BytesWrittenUncompressed/2 ||
			n.BytesRead != n.BytesWritten || n.BytesReadUncompressed != n.BytesWrittenUncompressed {
			t.Fatalf("counts %+v", n)
		}
	})
}

func TestForeign(t *testing.T) {
	c := &Cache{TypeHash: 7, Codec: entry.NameHash("json"), Compression: compress.S2}
	ok := entry.View{Header: entry.Header{TypeHash: 7, Codec: entry.NameHash("json")}}
	if err := c.foreign(&ok); err != nil {
		t.Fatalf("an uncompressed entry of the cache: %v", err)
	}
	ok.Compression = byte(compress.S2)
	if err := c.foreign(&ok); err != nil {
		t.Fatalf("an entry compressed as the cache compresses: %v", err)
	}
	for name, v := range map[string]entry.View{
		"type":        {Header: entry.Header{TypeHash: 8, Codec: entry.NameHash("json")}},
		"codec":       {Header: entry.Header{TypeHash: 7, Codec: entry.MsgpackCodec}},
		"compression": {Header: entry.Header{TypeHash: 7, Codec: entry.NameHash("json"), Compression: byte(compress.Zstd)}},
		"unknown":     {Header: entry.Header{TypeHash: 7, Codec: entry.NameHash("json"), Compression: 9}},
	} {
		if err := c.foreign(&v); !errors.Is(err, entry.ErrCorrupt) {
			t.Errorf("another %s: %v, want ErrCorrupt", name, err)
		}
	}
	plain := &Cache{TypeHash: 7} // Codec 0: msgpack
	if err := plain.foreign(&entry.View{Header: entry.Header{TypeHash: 7, Codec: entry.MsgpackCodec}}); err != nil {
		t.Fatalf("a msgpack entry read by the default codec: %v", err)
	}
}
