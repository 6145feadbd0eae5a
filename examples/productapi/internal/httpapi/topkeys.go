package httpapi

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// TopKeys counts how often each cacheable request is made, for the stats
// route. At most maxKeys distinct requests are tracked: when full, every
// count is halved and the ones that reach zero are dropped, so memory is
// bounded and the frequent keys survive. It is safe for concurrent use.
type TopKeys struct {
	mu     sync.Mutex // guards counts
	counts map[string]uint64
	max    int
}

// KeyCount is one entry of TopKeys.Top.
type KeyCount struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
}

// NewTopKeys tracks up to maxKeys distinct keys.
func NewTopKeys(maxKeys int) *TopKeys {
	return &TopKeys{counts: map[string]uint64{}, max: maxKeys}
}

// Add counts one request of key.
func (t *TopKeys) Add(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.counts[key]; !ok && len(t.counts) >= t.max {
		for k, c := range t.counts {
			if c /= 2; c == 0 {
				delete(t.counts, k)
			} else {
				t.counts[k] = c
			}
		}
	}
	t.counts[key]++
}

// Top returns the n most requested keys, most requested first.
func (t *TopKeys) Top(n int) []KeyCount {
	t.mu.Lock()
	out := make([]KeyCount, 0, len(t.counts))
	for k, c := range t.counts {
		out = append(out, KeyCount{k, c})
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// requestKey names a cacheable request as the cache keys it: the path and
// the sorted query without the bypass parameter.
func requestKey(r *http.Request) string {
	q := r.URL.Query()
	q.Del("nocache")
	if len(q) == 0 {
		return r.URL.Path
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(r.URL.Path)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(strings.Join(q[k], ",")))
	}
	return b.String()
}
