package importer

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseProductAPIRules checks the rules parseProduct takes from
// catalog.Product.CheckImported, one report per bad column, and that the
// title is stored trimmed.
func TestParseProductAPIRules(t *testing.T) {
	row := func(s string) []string { return strings.Split(s, ",") }
	tests := []struct {
		rec       string
		known     knownSet
		wantCols  []string
		wantTitle string
	}{
		{"B000000001,  Beads  ,,,4.5,1,1,0,1,False,0", nil, nil, "Beads"},
		// Real exports hold empty titles: imported, although the API
		// refuses them.
		{"B000000001,,,,4.5,1,1,0,1,False,0", nil, nil, ""},
		{"B000000001,   ,,,4.5,1,1,0,1,False,0", nil, nil, ""},
		{"B000000001," + strings.Repeat("é", 2000) + ",,,4.5,1,1,0,1,False,0", nil, nil, strings.Repeat("é", 2000)},
		{"B000000001," + strings.Repeat("t", 64<<10+1) + ",,,4.5,1,1,0,1,False,0", nil, []string{"title"}, ""},
		{"059035342X,Harry Potter,,,0,0,0,0,1,False,0", nil, nil, "Harry Potter"}, // an ISBN-10 as ASIN
		// Category 0 passes the importer's own parsing, not the API's rule.
		{"B000000001,t,,,4.5,1,1,0,0,False,0", nil, []string{"category_id"}, "t"},
		{"B000000001,t,,,4.5,1,1,0,0,False,0", knownSet{0: {}}, []string{"category_id"}, "t"},
		// A column the importer refused is not reported again by the
		// API's rules.
		{"B000000001,t,http://i\x00,ftp://u,4.5,1,1,0,1,False,0", nil, []string{"imgUrl", "productURL"}, "t"},
		{"B000000001,\xff,,,4.5,1,1,0,1,False,0", nil, []string{"title"}, "\xff"},
	}
	for _, tt := range tests {
		var cols []string
		var p product
		ok := parseProduct(row(tt.rec), tt.known, &p, func(col, _ string) { cols = append(cols, col) })
		if ok != (len(tt.wantCols) == 0) || !reflect.DeepEqual(cols, tt.wantCols) {
			t.Errorf("%q: ok %v, bad columns %q; want %q", tt.rec, ok, cols, tt.wantCols)
		}
		if ok && p.title != tt.wantTitle {
			t.Errorf("%q: title %q, want %q", tt.rec, p.title, tt.wantTitle)
		}
	}

	var c category
	var reasons []string
	if parseCategory([]string{"0", "Zero"}, &c, func(col, reason string) { reasons = append(reasons, col+": "+reason) }) {
		t.Errorf("category 0 accepted")
	} else if len(reasons) != 1 || !strings.Contains(reasons[0], "positive") {
		t.Errorf("category 0 reported as %q", reasons)
	}
}
