package catalog

import (
	"errors"
	"net/url"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		query string
		check func(Filter) bool
		field string // non-empty: a *FieldError for this field is expected
	}{
		{"", func(f Filter) bool { return f.Page == 1 && f.Limit == DefaultLimit && f.CategoryID == nil }, ""},
		{"category_id=3&page=2&limit=5", func(f Filter) bool { return *f.CategoryID == 3 && f.Page == 2 && f.Limit == 5 }, ""},
		{"limit=101", func(f Filter) bool { return f.Limit == MaxLimit }, ""},
		{"limit=99999999999999999999999", func(f Filter) bool { return f.Limit == MaxLimit }, ""},
		{"q=+beads+", func(f Filter) bool { return f.Query == "beads" }, ""},
		{"best_seller=1&sort=-stars", func(f Filter) bool { return *f.BestSeller && f.Sort == "-stars" }, ""},
		{"min_price=0&max_price=0", func(f Filter) bool { return *f.MinPrice == 0 && *f.MaxPrice == 0 }, ""},
		{"nocache=true", nil, "nocache"}, // only allowed when the caller says so
		{"page=0", nil, "page"},
		{"page=10001", nil, "page"},
		{"limit=0", nil, "limit"},
		{"limit=-1", nil, "limit"},
		{"limit=1e3", nil, "limit"},
		{"category_id=-4", nil, "category_id"},
		{"category_id=1&category_id=2", nil, "category_id"},
		{"min_price=-0.01", nil, "min_price"},
		{"max_price=1e10", nil, "max_price"},
		{"min_price=5&max_price=4", nil, "min_price"},
		{"sort=", nil, "sort"},
		{"sort=price%3BDROP", nil, "sort"},
		{"q=%00", nil, "q"},
		{"q=%ff", nil, "q"},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFilter(q)
		if tt.field != "" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("ParseFilter(%q) = %v, want a FieldError on %s", tt.query, err, tt.field)
			}
			continue
		}
		if err != nil || !tt.check(f) {
			t.Errorf("ParseFilter(%q) = %+v, %v", tt.query, f, err)
		}
	}
	if _, err := ParseFilter(url.Values{"nocache": {"true"}}, "nocache"); err != nil {
		t.Errorf("allowed extra parameter refused: %v", err)
	}
}

func TestEscapeLike(t *testing.T) {
	if got := escapeLike(`50%_off\`); got != `50\%\_off\\` {
		t.Errorf("escapeLike = %q", got)
	}
}
