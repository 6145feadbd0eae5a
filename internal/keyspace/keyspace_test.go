package keyspace

import (
	"errors"
	"strings"
	"testing"
)

func TestEntryKeys(t *testing.T) {
	ks := New("shop")
	tests := []struct {
		key, want string
	}{
		{"B0001", "shop:products:B0001"},
		{"a:b", "shop:products:a:b"},
		{"{tag}", "shop:products:{tag}"},
		{"#x", "shop:products:#acfa92747bb3b6fcdd0e61da682d2fc4fa45c96f5315faeebfd94fa2697e5a9d"},
	}
	for _, tt := range tests {
		got, err := ks.Entry("products", tt.key)
		if err != nil || got != tt.want {
			t.Errorf("entry(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
	long, _ := ks.Entry("products", strings.Repeat("x", 300))
	if len(long) != len("shop:products:#")+64 {
		t.Errorf("long key not hashed: %q", long)
	}
	if _, err := ks.Entry("products", ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("empty key: %v", err)
	}
	if ks.Tag("category:1") != "shop:#t:category:1" || ks.Seq() != "shop:#seq" {
		t.Error("tag or sequence key layout changed")
	}
}

func TestParseEntryInvertsEntry(t *testing.T) {
	ks := New("ns")
	for _, key := range []string{"p1", "a:b:c", "#starts-with-hash", strings.Repeat("k", MaxRawKeyLen+1)} {
		rkey, err := ks.Entry("products", key)
		if err != nil {
			t.Fatal(err)
		}
		parts, ok := ks.ParseEntry(rkey)
		want, _ := EntryKey("products", key)
		if !ok || parts != want {
			t.Errorf("parseEntry(%q) = %+v, %v; want %+v", rkey, parts, ok, want)
		}
	}
	for _, rkey := range []string{ks.Tag("shelf"), ks.Seq(), "other:products:p1", "ns:products"} {
		if parts, ok := ks.ParseEntry(rkey); ok {
			t.Errorf("parseEntry(%q) = %+v, want not an entry key", rkey, parts)
		}
	}
}
