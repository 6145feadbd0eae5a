package engine

import (
	"log/slog"
	"testing"
	"time"
)

func TestSequenceGoingBackDistrustsOlderEntries(t *testing.T) {
	e := &Engine{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	e.noteSeq(5)
	e.noteSeq(3) // older news never lowers what was seen
	if e.seqSeen.Load() != 5 {
		t.Fatalf("seen %d, want 5", e.seqSeen.Load())
	}
	created := time.Now().Add(-time.Second).UnixMilli()
	e.checkSeq(7)
	if e.untrustedSince(created) {
		t.Fatal("a sequence that moved on distrusts entries")
	}
	e.checkSeq(2)
	if !e.untrustedSince(created) {
		t.Fatal("an entry created before Redis went back in time is trusted")
	}
	if e.untrustedSince(time.Now().Add(time.Second).UnixMilli()) {
		t.Fatal("an entry created since is distrusted")
	}
	if e.seqSeen.Load() != 2 {
		t.Fatalf("after going back, seen %d, want Redis's 2", e.seqSeen.Load())
	}
}
