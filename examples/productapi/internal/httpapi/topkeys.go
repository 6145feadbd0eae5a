package httpapi

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// TopKeys counts how often each cacheable request is made, for the stats
// route. At most maxKeys distinct requests are tracked: when a new key
// arrives and the table is full, the least requested of a few tracked keys
// (Go's map order picks them at random) makes room, as Redis's approximated
// LFU eviction does. Memory is bounded and frequent keys survive. It is safe
// for concurrent use.
type TopKeys struct {
	mu     sync.Mutex // guards counts
	counts map[string]uint64
	max    int
}

// evictionSample is how many keys are compared to pick one to forget.
const evictionSample = 16

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
		victim, least, seen := "", uint64(0), 0
		for k, c := range t.counts {
			if seen == 0 || c < least {
				victim, least = k, c
			}
			if seen++; seen == evictionSample {
				break
			}
		}
		delete(t.counts, victim)
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

// requestKey returns the cache's key of a request to route cache name, in
// the "<cache>:<key>" form that DELETE /admin/cache/keys takes: "GET ", the
// escaped path and the query sorted by name without the bypass parameter,
// as the middleware keys it. ok is false for requests that bypass the
// cache.
func requestKey(name string, r *http.Request) (key string, ok bool) {
	q := r.URL.Query()
	if v, has := q["nocache"]; has {
		if b, err := strconv.ParseBool(v[0]); v[0] == "" || err == nil && b {
			return "", false
		}
	}
	key = name + ":GET " + r.URL.EscapedPath()
	if len(q) > 0 {
		key += "?" + q.Encode()
	}
	return key, true
}
