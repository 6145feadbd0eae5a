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
	if !ValidASIN(p.ASIN) {
		return &FieldError{"asin", "must be 1 to 20 letters and digits"}
	}
	p.Title = strings.TrimSpace(p.Title)
	if p.Title == "" || len(p.Title) > 2000 || !utf8.ValidString(p.Title) || strings.ContainsRune(p.Title, 0) {
		return &FieldError{"title", "must be non-empty text of at most 2000 bytes"}
	}
	for _, u := range []struct{ name, v string }{{"img_url", p.ImgURL}, {"product_url", p.ProductURL}} {
		if u.v == "" {
			continue
		}
		parsed, err := url.Parse(u.v)
		if err != nil || len(u.v) > 2048 || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return &FieldError{u.name, "must be an http or https URL of at most 2048 bytes"}
		}
	}
	if bad(p.Stars) || p.Stars < 0 || p.Stars > 5 {
		return &FieldError{"stars", "must be from 0 to 5"}
	}
	if p.Reviews < 0 {
		return &FieldError{"reviews", "must not be negative"}
	}
	if bad(p.Price) || p.Price < 0 || p.Price > 1e9 {
		return &FieldError{"price", "must be from 0 to 1e9"}
	}
	if bad(p.ListPrice) || p.ListPrice < 0 || p.ListPrice > 1e9 {
		return &FieldError{"list_price", "must be from 0 to 1e9"}
	}
	if p.CategoryID <= 0 {
		return &FieldError{"category_id", "must be a positive integer"}
	}
	if p.BoughtInLastMonth < 0 {
		return &FieldError{"bought_in_last_month", "must not be negative"}
	}
	return nil
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
