package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCountersCountTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	v, err := New("shop", reg)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounters(v, "pages")
	c.Hit(false)
	c.Hit(true)
	c.Miss()
	c.Fail(OpRead)
	c.Dedup()
	c.StaleEntry()
	c.Skipped(SkipConflict)
	c.Load(time.Millisecond, LoadOK)
	c.Load(time.Millisecond, LoadNotFound)
	c.Load(time.Millisecond, LoadError)
	c.Refresh(true)
	c.LeaseWait(false)
	want := Counts{Hits: 2, LocalHits: 1, Misses: 1, Errors: 1, Loads: 3, LoadErrors: 1, DedupWaits: 1,
		StaleEntries: 1, WritesSkipped: 1, Refreshes: 1, LeaseWaits: 1}
	if got := c.Snapshot(); got != want {
		t.Fatalf("Snapshot = %+v, want %+v", got, want)
	}
	for name, want := range map[string]float64{
		"cachefront_hits_total": 2, "cachefront_misses_total": 1, "cachefront_errors_total": 1,
		"cachefront_loads_total": 3, "cachefront_writes_skipped_total": 1,
	} {
		if got := sum(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// A second set of vectors on one registerer shares the first one's series
// instead of failing.
func TestSecondRegistrationShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New("shop", reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New("shop", reg)
	if err != nil {
		t.Fatal(err)
	}
	NewCounters(a, "p").Miss()
	NewCounters(b, "p").Miss()
	if got := sum(t, reg, "cachefront_misses_total"); got != 2 {
		t.Fatalf("misses = %v, want 2 in one series", got)
	}
	if got := testutil.ToFloat64(a.CircuitOpen); got != 0 {
		t.Fatalf("circuit gauge = %v", got)
	}
}

func sum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
