package importer

import (
	"fmt"
	"testing"
)

// TestASINFilter: every added ASIN is reported, and few others are, at the
// size of the Kaggle file.
func TestASINFilter(t *testing.T) {
	const n = 1400000
	f := newASINFilter()
	asin := func(i int) string { return fmt.Sprintf("B%09d", i) }
	for i := range n {
		f.add(asin(2 * i))
	}
	for i := range n {
		if !f.mayContain(asin(2 * i)) {
			t.Fatalf("%s was added but is not reported", asin(2*i))
		}
	}
	wrong := 0
	const tries = 200000
	for i := range tries {
		if f.mayContain(asin(2*i + 1)) {
			wrong++
		}
	}
	// 0.33 % expected; allow for chance.
	if rate := float64(wrong) / tries; rate > 0.005 {
		t.Errorf("%.2f %% of ASINs never added are reported, want about 0.33 %%", 100*rate)
	}
}
