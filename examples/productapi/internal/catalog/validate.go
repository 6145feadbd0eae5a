package catalog

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"
)

// CheckASIN returns why s is not an ASIN, or "" if it is one: 1 to
// MaxASINLen ASCII letters and digits. Every ASIN of the real data set (10
// digits and upper-case letters, books using their ISBN-10) passes, and so
// do the shorter identifiers clients use for products of their own. The API
// and the importer both apply it.
func CheckASIN(s string) string {
	if len(s) == 0 || len(s) > MaxASINLen {
		return fmt.Sprintf("must be 1 to %d characters, got %d", MaxASINLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return "must hold only letters and digits"
		}
	}
	return ""
}

// MaxASINLen is the longest ASIN accepted.
const MaxASINLen = 20

// ValidASIN reports whether s is an ASIN (see CheckASIN).
func ValidASIN(s string) bool { return CheckASIN(s) == "" }

// Validate checks the fields of a product a client sent, returning a
// *FieldError for the first bad one. It trims the title.
func (p *Product) Validate() error {
	var first *FieldError
	p.Check(func(field, reason string) {
		if first == nil {
			first = &FieldError{field, reason}
		}
	})
	if first != nil {
		return first
	}
	return nil
}

// Check applies the rules of Validate, calling report with the JSON name of
// each bad field and the reason, in the order of the fields, and reports
// whether there was none. It trims the title.
func (p *Product) Check(report func(field, reason string)) bool {
	return p.check(apiRules, report)
}

// CheckImported applies the rules to a product read from a Kaggle export
// (the CSV importer's): those of Check, except that the title may be empty
// and as long as MaxImportedTitleLen, because real exports hold such rows.
// It trims the title.
func (p *Product) CheckImported(report func(field, reason string)) bool {
	return p.check(importRules, report)
}

// titleRules are where the API's rules and the importer's differ.
type titleRules struct {
	allowEmpty bool
	maxLen     int // bytes, after trimming
}

var (
	apiRules    = titleRules{maxLen: MaxTitleLen}
	importRules = titleRules{allowEmpty: true, maxLen: MaxImportedTitleLen}
)

func (p *Product) check(rules titleRules, report func(field, reason string)) bool {
	ok := true
	fail := func(field, reason string) {
		ok = false
		report(field, reason)
	}
	if reason := CheckASIN(p.ASIN); reason != "" {
		fail("asin", reason)
	}
	p.Title = strings.TrimSpace(p.Title)
	switch {
	case !utf8.ValidString(p.Title) || strings.ContainsRune(p.Title, 0):
		fail("title", "must be valid UTF-8 text without NUL bytes")
	case p.Title == "" && !rules.allowEmpty:
		fail("title", fmt.Sprintf("must be non-empty text of at most %d bytes", rules.maxLen))
	case len(p.Title) > rules.maxLen:
		fail("title", fmt.Sprintf("must be text of at most %d bytes, got %d", rules.maxLen, len(p.Title)))
	}
	for _, u := range [...]struct{ name, v string }{{"img_url", p.ImgURL}, {"product_url", p.ProductURL}} {
		if u.v != "" && !validURL(u.v) {
			fail(u.name, "must be an http or https URL of at most 2048 bytes")
		}
	}
	if bad(p.Stars) || p.Stars < 0 || p.Stars > 5 {
		fail("stars", "must be from 0 to 5")
	}
	if p.Reviews < 0 {
		fail("reviews", "must not be negative")
	}
	if bad(p.Price) || p.Price < 0 || p.Price > maxPrice {
		fail("price", "must be from 0 to 1e9")
	}
	if bad(p.ListPrice) || p.ListPrice < 0 || p.ListPrice > maxPrice {
		fail("list_price", "must be from 0 to 1e9")
	}
	if p.CategoryID <= 0 {
		fail("category_id", "must be a positive integer")
	}
	if p.BoughtInLastMonth < 0 {
		fail("bought_in_last_month", "must not be negative")
	}
	return ok
}

// Title limits, in bytes after trimming.
const (
	// MaxTitleLen bounds the title of a product the API is sent.
	MaxTitleLen = 2000
	// MaxImportedTitleLen bounds the title of an imported product: far
	// above any Amazon title, so that no row of a real export is refused
	// for its title, yet a bound on what one CSV field may hold.
	MaxImportedTitleLen = 64 << 10
)

// Other limits of Validate.
const (
	maxURLLen = 2048 // bytes
	maxPrice  = 1e9  // price and list price
)

func validURL(s string) bool {
	if len(s) > maxURLLen {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
