package cachefront

import (
	"strings"
	"testing"

	"github.com/cachefront/cachefront/internal/keyspace"
)

func FuzzEntryKey(f *testing.F) {
	for _, s := range []string{"a", "#", "#a", "a:b", strings.Repeat("z", 257), "\x00", "{x}y"} {
		f.Add(s, s+"1")
	}
	ks := keyspace.New("ns")
	f.Fuzz(func(t *testing.T, k1, k2 string) {
		r1, err1 := ks.Entry("c", k1)
		r2, err2 := ks.Entry("c", k2)
		if (err1 != nil) != (k1 == "") || (err2 != nil) != (k2 == "") {
			t.Fatalf("errors %v, %v for %q, %q", err1, err2, k1, k2)
		}
		if err1 != nil || err2 != nil {
			return
		}
		if !strings.HasPrefix(r1, "ns:c:") || len(r1) > len("ns:c:")+keyspace.MaxRawKeyLen+1 {
			t.Fatalf("entry(%q) = %q", k1, r1)
		}
		if (k1 == k2) != (r1 == r2) {
			t.Fatalf("keys %q and %q map to %q and %q", k1, k2, r1, r2)
		}
		name, key, err := splitStoreKey("c:" + k1)
		if err != nil || name != "c" || key != k1 {
			t.Fatalf("splitStoreKey round trip of %q: %q %q %v", k1, name, key, err)
		}
	})
}
