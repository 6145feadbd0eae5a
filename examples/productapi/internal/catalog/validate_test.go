package catalog

import (
	"strings"
	"testing"
)

func TestCheckASIN(t *testing.T) {
	tests := []struct {
		asin string
		ok   bool
	}{
		{"B07XJ8C8F5", true},
		{"059035342X", true}, // an ISBN-10, as books have
		{"0123456789", true},
		{"b07xj8c8f5", true},
		{"X1", true},
		{"B07XJ8C8F55B07XJ8C8F", true},
		{"B07XJ8C8F55B07XJ8C8F5", false}, // 21
		{"B07-J8C8F5", false},
		{"B07 J8C8F5", false},
		{"B07XJ8C8Fé", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidASIN(tt.asin); got != tt.ok {
			t.Errorf("ValidASIN(%q) = %v, want %v (%s)", tt.asin, got, tt.ok, CheckASIN(tt.asin))
		}
	}
}

// TestCheckTitle: the API wants a title of at most MaxTitleLen bytes; an
// imported product may have none, and one up to MaxImportedTitleLen.
func TestCheckTitle(t *testing.T) {
	tests := []struct {
		title         string
		api, imported bool
	}{
		{"Beads", true, true},
		{"", false, true},
		{"   ", false, true},
		{strings.Repeat("x", MaxTitleLen), true, true},
		{strings.Repeat("x", MaxTitleLen+1), false, true},
		{strings.Repeat("x", MaxImportedTitleLen+1), false, false},
		{"bad \xff", false, false},
		{"nul \x00", false, false},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			name  string
			check func(*Product, func(string, string)) bool
			want  bool
		}{{"Check", (*Product).Check, tt.api}, {"CheckImported", (*Product).CheckImported, tt.imported}} {
			p := Product{ASIN: "B07XJ8C8F5", Title: tt.title, CategoryID: 1}
			var fields []string
			ok := c.check(&p, func(field, _ string) { fields = append(fields, field) })
			if ok != c.want || (!ok && (len(fields) != 1 || fields[0] != "title")) {
				t.Errorf("%s(title of %d bytes) = %v, fields %v; want %v", c.name, len(tt.title), ok, fields, c.want)
			}
		}
	}
}
