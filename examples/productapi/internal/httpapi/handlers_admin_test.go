package httpapi

import (
	"reflect"
	"testing"

	"github.com/cachefront/cachefront"
)

// The stats route lists the keys read most across caches, as the library
// reports them.
func TestMergeTopKeys(t *testing.T) {
	caches := map[string]cachefront.CacheStats{
		"product-pages": {Hits: 9, TopKeys: []cachefront.KeyCount{{Key: "product-pages:a", Count: 7, Error: 1}, {Key: "product-pages:b", Count: 2}}},
		"product":       {TopKeys: []cachefront.KeyCount{{Key: "product:x", Count: 5}, {Key: "product:y", Count: 2}}},
		"categories":    {Hits: 3}, // no top keys
	}
	tests := []struct {
		name   string
		caches map[string]cachefront.CacheStats
		n      int
		want   []string
	}{
		{"every key, most read first, ties by key", caches, 0, []string{"product-pages:a", "product:x", "product-pages:b", "product:y"}},
		{"the n most read across caches", caches, 2, []string{"product-pages:a", "product:x"}},
		{"n above the keys reported", caches, 10, []string{"product-pages:a", "product:x", "product-pages:b", "product:y"}},
		{"no caches", nil, 10, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeTopKeys(tt.caches, tt.n)
			if got == nil {
				t.Fatal("nil, which the stats route would write as null")
			}
			keys := []string{}
			for _, k := range got {
				keys = append(keys, k.Key)
			}
			if !reflect.DeepEqual(keys, tt.want) {
				t.Fatalf("keys %q, want %q", keys, tt.want)
			}
			if len(got) > 0 && got[0].Error != 1 {
				t.Errorf("the top key lost its error bound: %+v", got[0])
			}
		})
	}
}
