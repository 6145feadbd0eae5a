package catalog

import (
	"math"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

var asinPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,20}$`)

// ValidASIN reports whether s can be an ASIN: 1 to 20 letters and digits
// (Amazon's are 10).
func ValidASIN(s string) bool { return asinPattern.MatchString(s) }

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
// whether there was none. It trims the title. The CSV importer calls it so
// that an imported row obeys the rules of the API.
func (p *Product) Check(report func(field, reason string)) bool {
	ok := true
	fail := func(field, reason string) {
		ok = false
		report(field, reason)
	}
	if !ValidASIN(p.ASIN) {
		fail("asin", "must be 1 to 20 letters and digits")
	}
	p.Title = strings.TrimSpace(p.Title)
	if p.Title == "" || len(p.Title) > maxTitleLen || !utf8.ValidString(p.Title) || strings.ContainsRune(p.Title, 0) {
		fail("title", "must be non-empty text of at most 2000 bytes")
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

// Limits of Validate.
const (
	maxTitleLen = 2000 // bytes, after trimming
	maxURLLen   = 2048 // bytes
	maxPrice    = 1e9  // price and list price
)

func validURL(s string) bool {
	if len(s) > maxURLLen {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
