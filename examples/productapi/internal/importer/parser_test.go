package importer

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

type chunkInfo struct {
	asins []string
	endTx bool
}

func chunks(t *testing.T, in string, batchSize int, scope dedupeScope) []chunkInfo {
	t.Helper()
	p := newParser(strings.NewReader(in), productFormat(nil), Options{BatchSize: batchSize, MaxReportedErrors: 10}, scope, time.Now())
	go p.run(context.Background())
	var out []chunkInfo
	for b := range p.batches {
		if cap(b.rows) > maxChunk {
			t.Errorf("chunk capacity %d > %d: memory would grow with BatchSize", cap(b.rows), maxChunk)
		}
		c := chunkInfo{endTx: b.endTx}
		for _, r := range b.rows {
			c.asins = append(c.asins, r.asin)
		}
		out = append(out, c)
		p.recycle(b)
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return out
}

func productRows(asins ...string) string {
	var b strings.Builder
	b.WriteString(prodHeader)
	for _, a := range asins {
		fmt.Fprintf(&b, "%s,t,http://i,http://u,1,1,1,1,1,False,1\n", a)
	}
	return b.String()
}

// TestChunking: rows travel in chunks of at most maxChunk whatever the
// BatchSize, and a transaction ends every BatchSize rows and at the end.
func TestChunking(t *testing.T) {
	var asins []string
	for i := range 2500 {
		asins = append(asins, fmt.Sprintf("B%09d", i))
	}
	in := productRows(asins...)
	got := chunks(t, in, 1<<20, dedupeTx)
	var sizes []int
	for _, c := range got {
		sizes = append(sizes, len(c.asins))
	}
	if fmt.Sprint(sizes) != "[1000 1000 500]" || got[0].endTx || got[1].endTx || !got[2].endTx {
		t.Errorf("BatchSize 1<<20: chunks %v, endTx %v %v %v", sizes, got[0].endTx, got[1].endTx, got[2].endTx)
	}
	got = chunks(t, in, 1200, dedupeTx)
	sizes, ends := nil, []bool{}
	for _, c := range got {
		sizes = append(sizes, len(c.asins))
		ends = append(ends, c.endTx)
	}
	if fmt.Sprint(sizes) != "[1000 200 1000 200 100]" || fmt.Sprint(ends) != "[false true false true true]" {
		t.Errorf("BatchSize 1200: chunks %v, endTx %v", sizes, ends)
	}
}

// TestDedupeScopes: a repeated key starts a new chunk (chunk scope) or a new
// transaction (transaction scope), or nothing at all.
func TestDedupeScopes(t *testing.T) {
	in := productRows("B000000001", "B000000002", "B000000001", "B000000003")
	for _, tc := range []struct {
		scope dedupeScope
		want  string
	}{
		{dedupeNone, "[{[B000000001 B000000002 B000000001 B000000003] true}]"},
		{dedupeChunk, "[{[B000000001 B000000002] false} {[B000000001 B000000003] true}]"},
		{dedupeTx, "[{[B000000001 B000000002] true} {[B000000001 B000000003] true}]"},
	} {
		if got := fmt.Sprint(chunks(t, in, 100, tc.scope)); got != tc.want {
			t.Errorf("scope %d: %s, want %s", tc.scope, got, tc.want)
		}
	}
}

func TestEmptyBody(t *testing.T) {
	if got := chunks(t, prodHeader, 10, dedupeTx); len(got) != 0 {
		t.Errorf("header only: %v", got)
	}
	p := newParser(bytes.NewReader(nil), productFormat(nil), Options{BatchSize: 10}, dedupeTx, time.Now())
	go p.run(context.Background())
	for range p.batches {
	}
	if p.err == nil {
		t.Error("empty input accepted")
	}
}
