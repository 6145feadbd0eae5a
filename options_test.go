package cachefront

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

func mustPanicWith(t *testing.T, target error, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, target) {
			t.Fatalf("panic = %v, want an error wrapping %v", r, target)
		}
	}()
	fn()
}

func TestInvalidConfigurationPanicsAtConstruction(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	s := NewStore(rdb)
	cases := map[string]func(){
		"nil client":          func() { NewStore(nil) },
		"zero TTL":            func() { NewStore(rdb, WithTTL(0)) },
		"negative TTL":        func() { New[string](s, "c", WithTTL(-time.Second)) },
		"jitter 1":            func() { New[string](s, "c", WithTTLJitter(1)) },
		"bad namespace":       func() { NewStore(rdb, WithNamespace("a:b")) },
		"bad cache name":      func() { New[string](s, "my cache") },
		"empty tag":           func() { New[string](s, "c", WithTags("")) },
		"store option on New": func() { New[string](s, "c", WithNamespace("x")) },
		"zero timeout":        func() { NewStore(rdb, WithOperationTimeout(0)) },
		"nil store":           func() { New[string](nil, "c") },
		"local TTL too short": func() { NewStore(rdb, WithLocalCache(10, 10*time.Millisecond)) },
		"local tier of none":  func() { NewStore(rdb, WithLocalCache(0, time.Minute)) },
		"no top keys":         func() { NewStore(rdb, WithTopKeys(0)) },
		"too many top keys":   func() { New[string](NewStore(rdb), "c", WithTopKeys(maxTopKeys+1)) },
		"nil codec":           func() { New[string](s, "c", WithCodec(nil)) },
		"nameless codec":      func() { NewStore(rdb, WithCodec(namelessCodec{})) },
		"codec on Middleware": func() { Middleware(s, WithCodec(JSONCodec)) },
		"compression below 0": func() { New[string](s, "c", WithCompression(-2)) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) { mustPanicWith(t, ErrInvalidOption, fn) })
	}
}

func TestInvalidCallOptionsAreErrors(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	c := New[string](NewStore(rdb), "c")
	called := false
	load := func(context.Context) (string, error) { called = true; return "v", nil }
	for name, opt := range map[string]Option{
		"negative TTL":   WithTTL(-1),
		"store-only":     WithNamespace("x"),
		"cache-only":     WithTypeName("x"),
		"over-long tag":  WithTags(string(make([]byte, 2000))),
		"bad load limit": WithLoadTimeout(0),
		"codec per call": WithCodec(JSONCodec),
		"compression":    WithCompression(0),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.GetOrLoad(ctxBG, "k", load, opt); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("GetOrLoad = %v, want ErrInvalidOption", err)
			}
			if err := c.Set(ctxBG, "k", "v", opt); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("Set = %v, want ErrInvalidOption", err)
			}
		})
	}
	if called {
		t.Fatal("loader called despite an invalid option")
	}
	if err := c.Store().InvalidateTags(ctxBG, ""); !errors.Is(err, ErrInvalidTag) {
		t.Fatalf("InvalidateTags(\"\") = %v, want ErrInvalidTag", err)
	}
	if err := c.Store().Delete(ctxBG, "no-colon"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Store.Delete(bad) = %v, want ErrInvalidKey", err)
	}
}

func TestTagsCascadeFromCacheToCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "c", WithTags("all"))
		if err := c.Set(ctxBG, "k", "v", WithTags("one")); err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"all", "one"} {
			if err := c.Set(ctxBG, "k", "v", WithTags("one")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctxBG, "k"); err != nil {
				t.Fatal(err)
			}
			if err := s.InvalidateTags(ctxBG, tag); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("entry survived invalidation of %q", tag)
			}
		}
	})
}

func TestClosedStore(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	s := NewStore(rdb)
	c := New[string](s, "c")
	_ = s.Close()
	if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	if err := s.InvalidateTags(ctxBG, "t"); !errors.Is(err, ErrClosed) {
		t.Fatalf("InvalidateTags after Close = %v", err)
	}
}

type namelessCodec struct{ upperCodec }

func (namelessCodec) Name() string { return "" }

// A Store's codec and compression are its caches' defaults; a cache may
// turn compression off.
func TestCodecAndCompressionCascade(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	s := NewStore(rdb, WithCodec(JSONCodec), WithCompression(0))
	inherits := New[Product](s, "a")
	opts := New[Product](s, "b", WithCompression(NoCompression), WithCodec(MsgpackCodec))
	for _, c := range []*Cache[Product]{inherits, opts} {
		if err := c.Set(ctxBG, "k", sampleProduct("B1")); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]struct {
		codec      uint32
		compressed bool
	}{"a": {entry.NameHash("json"), true}, "b": {entry.MsgpackCodec, false}} {
		v, err := entry.DecodeString(mustGet(t, mr, s, name))
		if err != nil || v.Codec != want.codec || (v.Compression != 0) != want.compressed {
			t.Fatalf("cache %s: codec %#x compression %d, %v; want %#x, compressed %v", name, v.Codec, v.Compression, err, want.codec, want.compressed)
		}
	}
}

func mustGet(t *testing.T, mr *miniredis.Miniredis, s *Store, cache string) string {
	t.Helper()
	rkey, _ := s.e.Keys.Entry(cache, "k")
	v, err := mr.Get(rkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
