package httpapi

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

func TestRequestKey(t *testing.T) {
	lists := CacheRoute{Name: "product-lists", Key: productListKey}
	tests := []struct {
		url  string
		want string
		ok   bool
	}{
		{"/products", "product-lists:GET ~%2Fproducts", true},
		{"/products?page=2&category_id=3", "product-lists:GET ~%2Fproducts%3Fcategory_id%3D3%26page%3D2", true},
		{"/products?category_id=03&page=02&limit=20", "product-lists:GET ~%2Fproducts%3Fcategory_id%3D3%26page%3D2", true},
		{"/products?q=a+b&nocache=false", "product-lists:GET ~%2Fproducts%3Fq%3Da%2Bb", true},
		{"/products?nocache=true&page=2", "", false},
		{"/products?nocache", "", false},
		{"/products?page=0", "", false},     // refused by the route
		{"/products?page=1;x", "", false},   // malformed
		{"/products?colour=red", "", false}, // unknown parameter
	}
	for _, tt := range tests {
		got, ok := requestKey(lists, httptest.NewRequest("GET", tt.url, nil))
		if got != tt.want || ok != tt.ok {
			t.Errorf("requestKey(%q) = %q, %v; want %q, %v", tt.url, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTopKeysStaysBounded(t *testing.T) {
	top := NewTopKeys(160)
	for i := 0; i < 50; i++ {
		top.Add("hot")
	}
	for i := 0; i < 10000; i++ {
		top.Add(fmt.Sprintf("cold-%d", i))
	}
	n := 0
	for i := range top.shards {
		n += len(top.shards[i].counts)
	}
	if n > 160 {
		t.Fatalf("%d keys tracked, want at most 160", n)
	}
	if got := top.Top(1); len(got) != 1 || got[0].Key != "hot" {
		t.Fatalf("Top(1) = %v, want hot first", got)
	}
}

func BenchmarkTopKeysAdd(b *testing.B) {
	top := NewTopKeys(10_000)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("product-lists:GET /products?page=%d", i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			top.Add(keys[i%len(keys)])
			i++
		}
	})
}
