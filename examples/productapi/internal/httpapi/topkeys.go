package httpapi

import (
	"hash/fnv"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
)

// TopKeys counts how often each cacheable request is made, for the stats
// route. At most maxKeys distinct requests are tracked: when a new key
// arrives and its shard is full, the least requested of a few tracked keys
// (Go's map order picks them at random) makes room, as Redis's approximated
// LFU eviction does. Memory is bounded and frequent keys survive. Keys are
// spread over shards, each with its own lock, so that concurrent requests
// rarely wait on each other. It is safe for concurrent use.
type TopKeys struct {
	shards [topShards]topShard
}

type topShard struct {
	mu     sync.Mutex // guards counts
	counts map[string]uint64
	max    int
}

const (
	topShards = 16
	// evictionSample is how many keys are compared to pick one to forget.
	evictionSample = 16
)

// KeyCount is one entry of TopKeys.Top.
type KeyCount struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
}

// NewTopKeys tracks up to maxKeys distinct keys (at least one per shard).
func NewTopKeys(maxKeys int) *TopKeys {
	t := &TopKeys{}
	for i := range t.shards {
		t.shards[i] = topShard{counts: map[string]uint64{}, max: max(1, maxKeys/topShards)}
	}
	return t
}

// Add counts one request of key.
func (t *TopKeys) Add(key string) {
	h := fnv.New32a()
	h.Write([]byte(key))
	sh := &t.shards[h.Sum32()%topShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.counts[key]; !ok && len(sh.counts) >= sh.max {
		victim, least, seen := "", uint64(0), 0
		for k, c := range sh.counts {
			if seen == 0 || c < least {
				victim, least = k, c
			}
			if seen++; seen == evictionSample {
				break
			}
		}
		delete(sh.counts, victim)
	}
	sh.counts[key]++
}

// Top returns the n most requested keys, most requested first.
func (t *TopKeys) Top(n int) []KeyCount {
	var out []KeyCount
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, c := range sh.counts {
			out = append(out, KeyCount{k, c})
		}
		sh.mu.Unlock()
	}
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

// requestKey returns the cache's key of a request to route, in the
// "<cache>:<key>" form that DELETE /admin/cache/keys takes: as the
// middleware builds it with a key function, "GET ~" and the escaped
// canonical key (see CacheRoute.Key). ok is false for requests that bypass
// the cache, or that the route refuses.
func requestKey(route CacheRoute, r *http.Request) (key string, ok bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", false
	}
	if v, has := q[bypassParam]; has {
		if b, err := strconv.ParseBool(v[0]); v[0] == "" || err == nil && b {
			return "", false
		}
	}
	k := route.Key(r)
	if k == "" {
		return "", false
	}
	return route.Name + ":GET ~" + url.QueryEscape(k), true
}
