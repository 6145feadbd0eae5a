// Package seenversions remembers the tag versions a process recently saw
// Redis hold, so that a Set can record its tags' versions without asking
// Redis again.
package seenversions

import (
	"sync"
	"sync/atomic"

	"github.com/cachefront/cachefront/internal/entry"
)

// For is how long, in milliseconds, a tag version this process saw in Redis may be
// recorded by Set without asking Redis again.
const For = 1000 // milliseconds

// Memo remembers the tag versions this process recently saw Redis
// hold (creating, confirming or replacing them), so that Set can record a
// tag's version with a plain SET instead of a script that looks it up.
//
// Recording a version that has meanwhile been replaced is always safe: the
// entry is then already invalidated, a miss for every reader, never a stale
// hit. So a Set that races an invalidation made by another instance within
// For is lost (and the next read loads), never wrong. Only
// versions this process saw Redis hold are remembered, never "none".
//
// Memory stays bounded by the tags used in the last two periods: the map is
// replaced by a new one every period, and the previous one is kept for
// lookups until the next replacement.
type Memo struct {
	gens atomic.Pointer[seenGens]
}

type seenGens struct {
	cur, prev *sync.Map // tag name -> seenVersion
	started   int64     // Unix ms when cur was created
}

type seenVersion struct {
	version string
	at      int64 // Unix ms
}

func (sv *Memo) load(nowMs int64) *seenGens {
	g := sv.gens.Load()
	if g == nil || nowMs-g.started >= For {
		next := &seenGens{cur: new(sync.Map), started: nowMs}
		if g != nil {
			next.prev = g.cur
		}
		if sv.gens.CompareAndSwap(g, next) {
			return next
		}
		return sv.gens.Load()
	}
	return g
}

// Lookup returns the tags with the versions seen for them, or ok false when
// one of them was not seen within For.
func (sv *Memo) Lookup(names []string, nowMs int64) (tags []entry.Tag, ok bool) {
	g := sv.load(nowMs)
	tags = make([]entry.Tag, len(names))
	for i, n := range names {
		v, found := g.cur.Load(n)
		if !found && g.prev != nil {
			v, found = g.prev.Load(n)
		}
		if !found || nowMs-v.(seenVersion).at >= For {
			return nil, false
		}
		tags[i] = entry.Tag{Name: n, Version: v.(seenVersion).version}
	}
	return tags, true
}

// Learn records that Redis held versions[i] for names[i] at nowMs, which
// must be no later than when Redis answered.
func (sv *Memo) Learn(names, versions []string, nowMs int64) {
	g := sv.load(nowMs)
	for i, n := range names {
		if i < len(versions) && versions[i] != "" {
			g.cur.Store(n, seenVersion{version: versions[i], at: nowMs})
		}
	}
}

// LearnAll records that Redis held version for every one of names.
func (sv *Memo) LearnAll(names []string, version string, nowMs int64) {
	g := sv.load(nowMs)
	for _, n := range names {
		g.cur.Store(n, seenVersion{version: version, at: nowMs})
	}
}

// Forget drops what was seen of names (another instance invalidated them).
func (sv *Memo) Forget(names []string) {
	g := sv.gens.Load()
	if g == nil {
		return
	}
	for _, n := range names {
		g.cur.Delete(n)
		if g.prev != nil {
			g.prev.Delete(n)
		}
	}
}
