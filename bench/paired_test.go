package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The benchmarks in bench_test.go run one library after another, so a
// machine whose load changes from second to second (other builds, other
// tests) shifts each library's numbers differently. BenchmarkPaired measures
// each target as a ratio instead: every iteration runs the reference and the
// library once each, alternating which goes first, under the same
// conditions, and reports
//
//	ref-ns/op  the reference's mean time per operation
//	lib-ns/op  the library's mean time per operation
//	x-ref      lib-ns/op / ref-ns/op
//
// Allocations are not split between the two: take them from the unpaired
// benchmarks, where they do not depend on load.

// BenchmarkPaired times, against the floor of the same iterations:
//
//	op=get        a hit on a tagged entry (the library checks the tag where it can)
//	op=getorload  a get-or-load hit on a tagged entry
//	op=set        a Set with one tag, against msgpack encode and raw SET
//	op=invalidate InvalidateTags of a tag on 100 or 10,000 entries, against a
//	              GET of a 2-byte value (one round trip)
//	op=parallel   bursts of reads of one hot key by 16, 64 and 256 goroutines
//	op=watchdog   a cachefront hit on a default client against the same hit
//	              on a ContextTimeoutEnabled client: the cost of the watchdog
func BenchmarkPaired(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	libs := peerNames[1:]
	load := func(context.Context) (Product, error) { return product, nil }

	b.Run("op=get", func(b *testing.B) {
		for _, kind := range clientKinds {
			for _, name := range libs {
				b.Run("client="+kind+"/lib="+name, func(b *testing.B) {
					ref, lib := peer(b, "floor", kind), peer(b, name, kind)
					setBoth(b, ref, lib, "hot", &product)
					paired(b,
						func() error { _, err := ref.Get(ctx, "hot", hotTag); return err },
						func() error { _, err := lib.Get(ctx, "hot", hotTag); return err })
				})
			}
		}
	})
	b.Run("op=getorload", func(b *testing.B) {
		for _, kind := range clientKinds {
			for _, name := range libs {
				b.Run("client="+kind+"/lib="+name, func(b *testing.B) {
					ref, lib := peer(b, "floor", kind), peer(b, name, kind)
					setBoth(b, ref, lib, "hot-gol", &product)
					paired(b,
						func() error { _, err := ref.Get(ctx, "hot-gol", hotTag); return err },
						func() error { _, err := lib.GetOrLoad(ctx, "hot-gol", hotTag, load); return err })
				})
			}
		}
	})
	b.Run("op=set", func(b *testing.B) {
		for _, kind := range clientKinds {
			for _, name := range libs {
				b.Run("client="+kind+"/lib="+name, func(b *testing.B) {
					ref, lib := peer(b, "floor", kind), peer(b, name, kind)
					ids := make([]string, 1000)
					for i := range ids {
						ids[i] = "set-" + strconv.Itoa(i)
					}
					i, j := 0, 0
					paired(b,
						func() error { i++; return ref.Set(ctx, ids[i%len(ids)], &product, hotTag) },
						func() error { j++; return lib.Set(ctx, ids[j%len(ids)], &product, hotTag) })
				})
			}
		}
	})
	b.Run("op=invalidate", func(b *testing.B) {
		for _, n := range []int{100, 10_000} {
			for _, kind := range clientKinds {
				b.Run("keys="+strconv.Itoa(n)+"/client="+kind+"/lib=cachefront", func(b *testing.B) {
					rdb := client(b, kind)
					cf := peer(b, "cachefront", kind).(*Cachefront)
					tag := "bench-inv-" + strconv.Itoa(n)
					populateCachefront(b, cf, tag, n)
					if err := rdb.Set(ctx, "floorbench:rt-small", "42", TTL).Err(); err != nil {
						b.Fatal(err)
					}
					paired(b,
						func() error { return rdb.Get(ctx, "floorbench:rt-small").Err() },
						func() error { return cf.InvalidateTag(ctx, tag) })
				})
			}
		}
	})
	b.Run("op=watchdog/lib=cachefront", func(b *testing.B) {
		ref, lib := peer(b, "cachefront", "ctxtimeout"), peer(b, "cachefront", "default")
		setBoth(b, ref, lib, "hot", &product)
		paired(b,
			func() error { _, err := ref.Get(ctx, "hot", hotTag); return err },
			func() error { _, err := lib.Get(ctx, "hot", hotTag); return err })
	})
	b.Run("op=parallel", func(b *testing.B) {
		for _, readers := range hotKeyReaders {
			for _, kind := range clientKinds {
				for _, name := range libs {
					b.Run(fmt.Sprintf("readers=%d/client=%s/lib=%s", readers, kind, name), func(b *testing.B) {
						ref, lib := peer(b, "floor", kind), peer(b, name, kind)
						setBoth(b, ref, lib, "hot-par", &product)
						pairedParallel(b, readers, 100,
							func() error { _, err := ref.Get(ctx, "hot-par", hotTag); return err },
							func() error { _, err := lib.Get(ctx, "hot-par", hotTag); return err })
					})
				}
			}
		}
	})
}

// setBoth stores p under id with the hot tag in the reference and the
// library.
func setBoth(b *testing.B, ref, lib Peer, id string, p *Product) {
	b.Helper()
	ctx := context.Background()
	for _, x := range []Peer{ref, lib} {
		if err := x.Set(ctx, id, p, hotTag); err != nil {
			b.Fatal(err)
		}
		if _, err := x.Get(ctx, id, hotTag); err != nil {
			b.Fatalf("%s: reading back: %v", x.Name(), err)
		}
	}
}

// paired runs ref and lib once per iteration, alternating their order, and
// reports their mean times and the ratio.
func paired(b *testing.B, ref, lib func() error) {
	b.Helper()
	var refD, libD time.Duration
	timed := func(f func() error) time.Duration {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			refD += timed(ref)
			libD += timed(lib)
		} else {
			libD += timed(lib)
			refD += timed(ref)
		}
		n++
	}
	report(b, refD, libD, n)
}

// pairedParallel runs, per iteration, a burst of perG calls of ref in each of
// g goroutines and a burst of lib, alternating their order, and reports the
// wall time per call of each and the ratio (below 1/3 means more than three
// times the reference's throughput).
func pairedParallel(b *testing.B, g, perG int, ref, lib func() error) {
	b.Helper()
	var refD, libD time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			refD += burst(b, g, perG, ref)
			libD += burst(b, g, perG, lib)
		} else {
			libD += burst(b, g, perG, lib)
			refD += burst(b, g, perG, ref)
		}
		n++
	}
	report(b, refD, libD, n*g*perG)
}

func report(b *testing.B, refD, libD time.Duration, ops int) {
	if ops == 0 || refD == 0 {
		return
	}
	b.ReportMetric(float64(refD.Nanoseconds())/float64(ops), "ref-ns/op")
	b.ReportMetric(float64(libD.Nanoseconds())/float64(ops), "lib-ns/op")
	b.ReportMetric(float64(libD)/float64(refD), "x-ref")
}

// burst runs n calls of f in each of g goroutines at once and returns the
// wall time; the first error fails the benchmark.
func burst(b *testing.B, g, n int, f func() error) time.Duration {
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	start := time.Now()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if err := f(); err != nil {
					errMu.Lock()
					first = cmpErr(first, err)
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if first != nil {
		b.Fatal(first)
	}
	return d
}
