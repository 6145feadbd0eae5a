package importer

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
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
//
// The fields are parsed here, then checked against the rules of imported
// products (catalog.Product.CheckImported: the API's rules — http(s) URLs,
// prices up to 1e9, a positive category id … — except that the title, once
// trimmed, may be empty and up to 64 KiB, as rows of real exports are), so
// that the import stores what the API can serve. A field is reported once,
// with the first reason found.
func parseProduct(rec []string, known knownSet, p *product, bad func(column, reason string)) bool {
	var failed uint16 // bit i: column i of productHeader was reported
	fail := func(col int, reason string) {
		if failed&(1<<col) == 0 {
			failed |= 1 << col
			bad(productHeader[col], reason)
		}
	}
	if reason := checkASIN(rec[colASIN]); reason != "" {
		fail(colASIN, reason)
	}
	p.asin = rec[colASIN]
	for _, col := range [...]int{colTitle, colImgURL, colProductURL} {
		if reason := checkText(rec[col]); reason != "" {
			fail(col, reason)
		}
	}
	p.title, p.imgURL, p.productURL = rec[colTitle], rec[colImgURL], rec[colProductURL]

	var reason string
	if p.stars, reason = parseFloat(rec[colStars]); reason != "" {
		fail(colStars, reason)
	} else if p.stars > 5 {
		fail(colStars, "must be between 0 and 5, got "+quote(rec[colStars]))
	}
	if p.reviews, reason = parseCount(rec[colReviews]); reason != "" {
		fail(colReviews, reason)
	}
	if p.price, reason = parseFloat(rec[colPrice]); reason != "" {
		fail(colPrice, reason)
	}
	if p.listPrice, reason = parseFloat(rec[colListPrice]); reason != "" {
		fail(colListPrice, reason)
	}
	if p.categoryID, reason = parseCount(rec[colCategory]); reason != "" {
		fail(colCategory, reason)
	} else if known != nil {
		if _, found := known[p.categoryID]; !found {
			fail(colCategory, "unknown category "+rec[colCategory])
		}
	}
	switch rec[colBestSeller] {
	case "True":
		p.bestSeller = true
	case "False":
		p.bestSeller = false
	default:
		fail(colBestSeller, "must be True or False, got "+quote(rec[colBestSeller]))
	}
	if p.bought, reason = parseCount(rec[colBought]); reason != "" {
		fail(colBought, reason)
	}

	cp := catalog.Product{
		ASIN: p.asin, Title: p.title, ImgURL: p.imgURL, ProductURL: p.productURL,
		Stars: p.stars, Reviews: p.reviews, Price: p.price, ListPrice: p.listPrice,
		CategoryID: p.categoryID, IsBestSeller: p.bestSeller, BoughtInLastMonth: p.bought,
	}
	cp.CheckImported(func(field, reason string) {
		if col := catalogColumn(field); col >= 0 {
			fail(col, reason)
		} else {
			bad("", field+": "+reason)
			failed |= 1 << 15
		}
	})
	p.title = cp.Title // trimmed, as the API stores it
	return failed == 0
}

// The columns of productHeader.
const (
	colASIN = iota
	colTitle
	colImgURL
	colProductURL
	colStars
	colReviews
	colPrice
	colListPrice
	colCategory
	colBestSeller
	colBought
)

// catalogColumn returns the column of productHeader that holds the
// catalog.Product field of JSON name field, or -1.
func catalogColumn(field string) int {
	switch field {
	case "asin":
		return colASIN
	case "title":
		return colTitle
	case "img_url":
		return colImgURL
	case "product_url":
		return colProductURL
	case "stars":
		return colStars
	case "reviews":
		return colReviews
	case "price":
		return colPrice
	case "list_price":
		return colListPrice
	case "category_id":
		return colCategory
	case "is_best_seller":
		return colBestSeller
	case "bought_in_last_month":
		return colBought
	}
	return -1
}

// checkASIN returns why s is not an ASIN (catalog.CheckASIN), quoting it.
func checkASIN(s string) string {
	if reason := catalog.CheckASIN(s); reason != "" {
		return reason + ": " + quote(s)
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
