package cachefront

import (
	"errors"
	"strings"
	"testing"
)

func TestEntryKeys(t *testing.T) {
	ks := newKeyspace("shop")
	tests := []struct {
		key, want string
	}{
		{"B0001", "shop:products:B0001"},
		{"a:b", "shop:products:a:b"},
		{"{tag}", "shop:products:{tag}"},
		{"#x", "shop:products:#acfa92747bb3b6fcdd0e61da682d2fc4fa45c96f5315faeebfd94fa2697e5a9d"},
	}
	for _, tt := range tests {
		got, err := ks.entry("products", tt.key)
		if err != nil || got != tt.want {
			t.Errorf("entry(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
	long, _ := ks.entry("products", strings.Repeat("x", 300))
	if len(long) != len("shop:products:#")+64 {
		t.Errorf("long key not hashed: %q", long)
	}
	if _, err := ks.entry("products", ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("empty key: %v", err)
	}
	if ks.tag("category:1") != "shop:#t:category:1" || ks.seq() != "shop:#seq" {
		t.Error("tag or sequence key layout changed")
	}
}

func FuzzEntryKey(f *testing.F) {
	for _, s := range []string{"a", "#", "#a", "a:b", strings.Repeat("z", 257), "\x00", "{x}y"} {
		f.Add(s, s+"1")
	}
	ks := newKeyspace("ns")
	f.Fuzz(func(t *testing.T, k1, k2 string) {
		r1, err1 := ks.entry("c", k1)
		r2, err2 := ks.entry("c", k2)
		if (err1 != nil) != (k1 == "") || (err2 != nil) != (k2 == "") {
			t.Fatalf("errors %v, %v for %q, %q", err1, err2, k1, k2)
		}
		if err1 != nil || err2 != nil {
			return
		}
		if !strings.HasPrefix(r1, "ns:c:") || len(r1) > len("ns:c:")+maxRawKeyLen+1 {
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

func TestParseEntryInvertsEntry(t *testing.T) {
	ks := newKeyspace("ns")
	for _, key := range []string{"p1", "a:b:c", "#starts-with-hash", strings.Repeat("k", maxRawKeyLen+1)} {
		rkey, err := ks.entry("products", key)
		if err != nil {
			t.Fatal(err)
		}
		parts, ok := ks.parseEntry(rkey)
		want, _ := entryKey("products", key)
		if !ok || parts != want {
			t.Errorf("parseEntry(%q) = %+v, %v; want %+v", rkey, parts, ok, want)
		}
	}
	for _, rkey := range []string{ks.tag("shelf"), ks.seq(), "other:products:p1", "ns:products"} {
		if parts, ok := ks.parseEntry(rkey); ok {
			t.Errorf("parseEntry(%q) = %+v, want not an entry key", rkey, parts)
		}
	}
}
