package importer

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// productHeader is the header line of amazon_products.csv, in order.
var productHeader = []string{
	"asin", "title", "imgUrl", "productURL", "stars", "reviews", "price",
	"listPrice", "category_id", "isBestSeller", "boughtInLastMonth",
}

// product is one validated row of amazon_products.csv.
type product struct {
	asin       string
	title      string
	imgURL     string
	productURL string
	stars      float64
	reviews    int64
	price      float64
	listPrice  float64
	categoryID int64
	bestSeller bool
	bought     int64
}

// knownSet is the set of category ids a product may refer to.
type knownSet map[int64]struct{}

// productFormat returns the products file format. known is filled by the
// writer's open before parsing starts; nil accepts any category.
func productFormat(known knownSet) *format[product] {
	return &format[product]{
		header: productHeader,
		parse: func(rec []string, _ int, p *product, bad func(column, reason string)) bool {
			return parseProduct(rec, known, p, bad)
		},
		key: func(p *product) string { return p.asin },
	}
}

// parseProduct validates the 11 fields of rec into p, reporting every bad
// field. known == nil accepts any category id.
func parseProduct(rec []string, known knownSet, p *product, bad func(column, reason string)) bool {
	ok := true
	fail := func(col, reason string) {
		ok = false
		bad(col, reason)
	}
	if reason := checkASIN(rec[0]); reason != "" {
		fail("asin", reason)
	}
	p.asin = rec[0]
	for i, col := range [...]string{"title", "imgUrl", "productURL"} {
		if reason := checkText(rec[1+i]); reason != "" {
			fail(col, reason)
		}
	}
	p.title, p.imgURL, p.productURL = rec[1], rec[2], rec[3]

	var reason string
	if p.stars, reason = parseFloat(rec[4]); reason != "" {
		fail("stars", reason)
	} else if p.stars > 5 {
		fail("stars", "must be between 0 and 5, got "+quote(rec[4]))
	}
	if p.reviews, reason = parseCount(rec[5]); reason != "" {
		fail("reviews", reason)
	}
	if p.price, reason = parseFloat(rec[6]); reason != "" {
		fail("price", reason)
	}
	if p.listPrice, reason = parseFloat(rec[7]); reason != "" {
		fail("listPrice", reason)
	}
	if p.categoryID, reason = parseCount(rec[8]); reason != "" {
		fail("category_id", reason)
	} else if known != nil {
		if _, found := known[p.categoryID]; !found {
			fail("category_id", "unknown category "+rec[8])
		}
	}
	switch rec[9] {
	case "True":
		p.bestSeller = true
	case "False":
		p.bestSeller = false
	default:
		fail("isBestSeller", "must be True or False, got "+quote(rec[9]))
	}
	if p.bought, reason = parseCount(rec[10]); reason != "" {
		fail("boughtInLastMonth", reason)
	}
	return ok
}

// checkASIN returns why s is not an ASIN: 10 characters, digits and
// upper-case ASCII letters.
func checkASIN(s string) string {
	if len(s) != 10 {
		return "must be 10 characters, got " + quote(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return "must hold only digits and upper-case letters, got " + quote(s)
		}
	}
	return ""
}

// checkText returns why s cannot be stored as text: invalid UTF-8 or a NUL
// byte (PostgreSQL rejects both).
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	return ""
}

// parseFloat parses a finite, non-negative decimal number.
func parseFloat(s string) (float64, string) {
	if s == "" {
		return 0, "must be a number, got an empty field"
	}
	// ParseFloat also accepts "Inf", "NaN", hex and underscores: allow
	// plain decimal notation only.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return 0, "must be a number, got " + quote(s)
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, "must be a number, got " + quote(s)
	}
	if v < 0 {
		return 0, "must not be negative, got " + quote(s)
	}
	return v, ""
}

// parseCount parses a non-negative decimal integer.
func parseCount(s string) (int64, string) {
	if s == "" {
		return 0, "must be a whole number, got an empty field"
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, "out of range: " + quote(s)
		}
		return 0, "must be a whole number, got " + quote(s)
	}
	if v < 0 {
		return 0, "must not be negative, got " + quote(s)
	}
	return v, ""
}

// quote quotes s for an error message, cut to a readable length.
func quote(s string) string {
	const maxLen = 40
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
