package importer

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSummaryJSON(t *testing.T) {
	s := Summary{Inserted: 1, Updated: 2, Unchanged: 3, Failed: 1, Elapsed: 1500 * time.Millisecond,
		Errors: []RowError{{Line: 7, Column: "stars", Reason: "must be between 0 and 5"}}, TouchedCategories: []int64{4, 9}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"inserted":1,"updated":2,"unchanged":3,"failed":1,"elapsed_ms":1500,"elapsed":"1.5s",` +
		`"errors":[{"line":7,"column":"stars","reason":"must be between 0 and 5"}],"errors_omitted":0,"touched_categories":[4,9]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip: %+v, want %+v", back, s)
	}
	b, _ = json.Marshal(Summary{})
	if !strings.Contains(string(b), `"errors":[]`) || !strings.Contains(string(b), `"touched_categories":[]`) {
		t.Errorf("empty summary: %s", b)
	}
}

func TestSummaryString(t *testing.T) {
	s := Summary{Inserted: 90, Updated: 5, Unchanged: 3, Failed: 2, Elapsed: 2 * time.Second,
		Errors: []RowError{{Line: 7, Column: "stars", Reason: "bad"}}, ErrorsOmitted: 3}
	want := "100 rows in 2s: 90 inserted, 5 updated, 3 unchanged, 2 failed (50 rows/s)\n" +
		"  line 7: stars: bad\n  … and 3 more errors not listed (2 bad rows in all)"
	if got := s.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
