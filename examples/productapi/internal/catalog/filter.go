package catalog

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Paging bounds.
const (
	DefaultLimit = 20
	MaxLimit     = 100    // larger limits are capped to this
	MaxPage      = 10_000 // deeper pages are refused: use filters instead
	MaxQueryLen  = 200    // bytes of a title search
)

// Sort orders accepted by the list query; a leading '-' means descending.
var sorts = map[string]string{
	"":         "asin ASC",
	"price":    "price ASC, asin ASC",
	"-price":   "price DESC, asin ASC",
	"stars":    "stars ASC, asin ASC",
	"-stars":   "stars DESC, asin ASC",
	"reviews":  "reviews ASC, asin ASC",
	"-reviews": "reviews DESC, asin ASC",
}

// Filter selects and orders a page of products. The zero value lists the
// first page of everything in ASIN order.
type Filter struct {
	CategoryID *int64
	Query      string // case-insensitive substring of the title
	MinPrice   *float64
	MaxPrice   *float64
	BestSeller *bool
	Sort       string // "", price, -price, stars, -stars, reviews, -reviews
	Page       int    // from 1
	Limit      int    // 1..MaxLimit
}

// FieldError reports one bad query parameter or body field.
type FieldError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ListParams lists the query parameters ParseFilter accepts.
var ListParams = []string{"category_id", "q", "min_price", "max_price", "best_seller", "sort", "page", "limit"}

// ParseFilter reads a Filter from the query of GET /products. Unknown
// parameters (other than those in allowExtra), repeated parameters and
// values out of range are *FieldError; a limit above MaxLimit is capped.
func ParseFilter(q url.Values, allowExtra ...string) (Filter, error) {
	f := Filter{Page: 1, Limit: DefaultLimit}
	for k, v := range q {
		if !contains(ListParams, k) && !contains(allowExtra, k) {
			return f, &FieldError{k, "unknown query parameter"}
		}
		if len(v) > 1 {
			return f, &FieldError{k, "given more than once"}
		}
	}
	var err error
	if s := q.Get("category_id"); q.Has("category_id") {
		id, perr := strconv.ParseInt(s, 10, 64)
		if !digits(s) || perr != nil || id <= 0 {
			return f, &FieldError{"category_id", "must be a positive integer"}
		}
		f.CategoryID = &id
	}
	if q.Has("q") {
		f.Query = strings.TrimSpace(q.Get("q"))
		if len(f.Query) > MaxQueryLen || !utf8.ValidString(f.Query) || strings.ContainsRune(f.Query, 0) {
			return f, &FieldError{"q", fmt.Sprintf("must be valid text of at most %d bytes", MaxQueryLen)}
		}
		// The search ignores the case of ASCII letters on both databases
		// (LIKE on SQLite, ILIKE on PostgreSQL), so folding them changes
		// no result and gives "Beads" and "beads" one canonical form.
		f.Query = asciiLower(f.Query)
	}
	if f.MinPrice, err = priceParam(q, "min_price"); err != nil {
		return f, err
	}
	if f.MaxPrice, err = priceParam(q, "max_price"); err != nil {
		return f, err
	}
	if f.MinPrice != nil && f.MaxPrice != nil && *f.MinPrice > *f.MaxPrice {
		return f, &FieldError{"min_price", "must not exceed max_price"}
	}
	if q.Has("best_seller") {
		b, perr := strconv.ParseBool(q.Get("best_seller"))
		if perr != nil {
			return f, &FieldError{"best_seller", "must be true or false"}
		}
		f.BestSeller = &b
	}
	if q.Has("sort") {
		f.Sort = q.Get("sort")
		if _, ok := sorts[f.Sort]; !ok || f.Sort == "" {
			return f, &FieldError{"sort", "must be one of price, -price, stars, -stars, reviews, -reviews"}
		}
	}
	if q.Has("page") {
		p, perr := strconv.Atoi(q.Get("page"))
		if !digits(q.Get("page")) || perr != nil || p < 1 || p > MaxPage {
			return f, &FieldError{"page", fmt.Sprintf("must be an integer from 1 to %d", MaxPage)}
		}
		f.Page = p
	}
	if q.Has("limit") {
		l, perr := strconv.ParseUint(q.Get("limit"), 10, 64)
		switch {
		case !digits(q.Get("limit")):
			return f, &FieldError{"limit", fmt.Sprintf("must be a positive integer (at most %d are returned)", MaxLimit)}
		case isOverflow(perr):
			f.Limit = MaxLimit
		case perr != nil || l == 0:
			return f, &FieldError{"limit", fmt.Sprintf("must be a positive integer (at most %d are returned)", MaxLimit)}
		default:
			f.Limit = int(min(l, MaxLimit))
		}
	}
	return f, nil
}

func isOverflow(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func priceParam(q url.Values, name string) (*float64, error) {
	if !q.Has(name) {
		return nil, nil
	}
	s := q.Get(name)
	v, err := strconv.ParseFloat(s, 64)
	if !decimal(s) || err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v > 1e9 {
		return nil, &FieldError{name, "must be a decimal number (digits and an optional fraction) from 0 to 1000000000"}
	}
	return &v, nil
}

// digits reports whether s is a non-empty run of ASCII digits: no sign, no
// spaces, no underscores, which strconv would otherwise accept in places.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimal reports whether s is digits with an optional fraction ("12",
// "12.5", ".5", "12."): strconv.ParseFloat also reads signs, exponents,
// hexadecimal, underscores and "Inf".
func decimal(s string) bool {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return false
	}
	return (whole == "" || digits(whole)) && (frac == "" || digits(frac))
}

// asciiLower lower-cases the ASCII letters of s and leaves the rest alone.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// Canonical returns f as a query string in one canonical form: every
// spelling of the same filter ("limit=0100", "limit=400" capped to 100,
// "category_id=01", "best_seller=T", "q=+Beads+") gives the same string, and
// different filters give different ones. Parameters at their default values
// (page 1, the default limit) are left out, so the empty string is the
// first page of everything. It is the key of the cached product lists.
func (f Filter) Canonical() string {
	q := url.Values{}
	if f.CategoryID != nil {
		q.Set("category_id", strconv.FormatInt(*f.CategoryID, 10))
	}
	if f.Query != "" {
		q.Set("q", f.Query)
	}
	for name, v := range map[string]*float64{"min_price": f.MinPrice, "max_price": f.MaxPrice} {
		if v != nil {
			q.Set(name, strconv.FormatFloat(*v, 'f', -1, 64))
		}
	}
	if f.BestSeller != nil {
		q.Set("best_seller", strconv.FormatBool(*f.BestSeller))
	}
	if f.Sort != "" {
		q.Set("sort", f.Sort)
	}
	if f.Page > 1 {
		q.Set("page", strconv.Itoa(f.Page))
	}
	if f.Limit != DefaultLimit && f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q.Encode() // sorted by name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// escapeLike escapes the LIKE wildcards of s with '\'.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
