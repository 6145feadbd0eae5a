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
		// Only plain decimal notation: strconv would read these too.
		{"min_price=1_0", nil, "min_price"},
		{"min_price=0x1p4", nil, "min_price"},
		{"max_price=1e3", nil, "max_price"},
		{"max_price=%2B5", nil, "max_price"},
		{"min_price=.", nil, "min_price"},
		{"page=%2B2", nil, "page"},
		{"category_id=%2B1", nil, "category_id"},
		{"limit=%2B5", nil, "limit"},
		{"min_price=.5&max_price=5.", func(f Filter) bool { return *f.MinPrice == 0.5 && *f.MaxPrice == 5 }, ""},
		{"q=BeAdS", func(f Filter) bool { return f.Query == "beads" }, ""},
		{"q=%C3%89T%C3%89", func(f Filter) bool { return f.Query == "ÉtÉ" }, ""}, // only ASCII is folded
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

// TestFilterCanonical: every spelling of one filter has one canonical form,
// and different filters have different ones.
func TestFilterCanonical(t *testing.T) {
	groups := [][]string{
		{"", "page=1", "limit=20", "page=01&limit=020"},
		{"limit=100", "limit=101", "limit=400", "limit=0100", "limit=99999999999999999999999"},
		{"category_id=1", "category_id=01", "category_id=001&page=1"},
		{"best_seller=true", "best_seller=1", "best_seller=T", "best_seller=TRUE", "best_seller=True"},
		{"best_seller=false", "best_seller=0", "best_seller=F"},
		{"min_price=10", "min_price=10.0", "min_price=010", "min_price=10."},
		{"page=2", "page=02"},
		{"q=beads", "q=+beads+", "q=%20Beads%09", "q=BEADS"},
		{"category_id=3&sort=-price&page=2&limit=5", "limit=5&page=2&sort=-price&category_id=3"},
		{"q=a%26b%3Dc", "q=A%26B%3DC"}, // a value holding & and = stays one value
	}
	seen := map[string]int{}
	for i, group := range groups {
		want := ""
		for j, query := range group {
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFilter(q)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", query, err)
			}
			got := f.Canonical()
			if j == 0 {
				want = got
				if other, dup := seen[got]; dup {
					t.Errorf("groups %d and %d share the canonical form %q", other, i, got)
				}
				seen[got] = i
				// The canonical form reads back as the same filter.
				back, err := url.ParseQuery(got)
				if err != nil {
					t.Fatal(err)
				}
				if g, err := ParseFilter(back); err != nil || g.Canonical() != got {
					t.Errorf("canonical form %q reads back as %q, %v", got, g.Canonical(), err)
				}
			} else if got != want {
				t.Errorf("%q: canonical %q, want %q (as %q)", query, got, want, group[0])
			}
		}
	}
}
