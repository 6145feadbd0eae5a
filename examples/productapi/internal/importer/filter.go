package importer

import "hash/maphash"

// asinFilter is a Bloom filter of ASINs, of fixed size (2 MiB). mayContain
// never misses an ASIN that was added; it wrongly reports one that was not
// with a probability that grows with the number added: about 0.5 % after
// 1.4 million, 4 % after 3 million, nearly always after 15 million, where
// the filter no longer saves anything but costs nothing wrong either.
// The zero value is not usable; call newASINFilter. Not safe for concurrent
// use.
type asinFilter struct {
	seed maphash.Seed
	bits []uint64
}

const (
	filterBits   = 1 << 24 // a power of two
	filterHashes = 7
)

func newASINFilter() *asinFilter {
	return &asinFilter{seed: maphash.MakeSeed(), bits: make([]uint64, filterBits/64)}
}

// probes returns the two hashes from which the bit positions of s derive
// (Kirsch and Mitzenmacher: h1 + i·h2 is as good as independent hashes).
func (f *asinFilter) probes(s string) (h1, h2 uint64) {
	h := maphash.String(f.seed, s)
	return h, h>>32 | 1
}

func (f *asinFilter) add(s string) {
	h1, h2 := f.probes(s)
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) & (filterBits - 1)
		f.bits[b/64] |= 1 << (b % 64)
	}
}

func (f *asinFilter) mayContain(s string) bool {
	h1, h2 := f.probes(s)
	for i := range uint64(filterHashes) {
		b := (h1 + i*h2) & (filterBits - 1)
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}
