package cachefront

import (
	"context"
	"sync"
)

type tagCollectorKey struct{}

// tagCollector gathers the tags a loader adds while it runs.
type tagCollector struct {
	mu   sync.Mutex // guards tags
	tags []string
}

func withTagCollector(ctx context.Context, tc *tagCollector) context.Context {
	return context.WithValue(ctx, tagCollectorKey{}, tc)
}

func (tc *tagCollector) list() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.tags
}

// AddTags tags the entry being built by the load (or HTTP response) whose
// context ctx is, for tags that are only known once loading has started —
// the category of a product just read, say. Outside a cachefront load it does
// nothing. It is safe to call from several goroutines of one load.
//
// A tag added this way was not part of the snapshot taken before the load, so
// cachefront checks it when writing: if the tag was invalidated while the load
// ran, the result is returned to its callers but not stored, and callers that
// joined the load are served by a fresh one. An empty or over-long tag makes
// the result uncacheable (counted under cachefront_errors_total{op="tags"}).
func AddTags(ctx context.Context, tags ...string) {
	tc, _ := ctx.Value(tagCollectorKey{}).(*tagCollector)
	if tc == nil || len(tags) == 0 {
		return
	}
	tc.mu.Lock()
	tc.tags = appendUnique(tc.tags, tags...)
	tc.mu.Unlock()
}
