package importer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/gen"
)

const (
	catHeader  = "id,category_name\n"
	prodHeader = "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n"
)

// invalidations records the calls to Options.Invalidate.
type invalidations struct {
	mu    sync.Mutex // guards calls
	calls [][]string
}

func (iv *invalidations) fn(_ context.Context, tags ...string) error {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	iv.calls = append(iv.calls, tags)
	return nil
}

func (iv *invalidations) take() [][]string {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	c := iv.calls
	iv.calls = nil
	return c
}

func counts4(s Summary) [4]int64 { return [4]int64{s.Inserted, s.Updated, s.Unchanged, s.Failed} }

const smallCategories = catHeader + `1,Beading & Jewelry Making
2,"Arts, Crafts & Sewing"
3,Kids' Furniture
4,"Décor ""Maison"" & Café"
`

// TestImportGenerated imports a generated file, checks that every value
// round-trips, then re-imports it and checks that nothing changes.
func TestImportGenerated(t *testing.T) {
	const rows = 3000
	catsCSV, prodsCSV := generated(t, rows, 42)
	nCats := int64(len(gen.Categories(42)))

	forEachDialect(t, func(t *testing.T, db testDB) {
		var iv invalidations
		opts := Options{BatchSize: 1300, Invalidate: iv.fn}

		s := db.importCategories(t, catsCSV, opts)
		if want := [4]int64{nCats, 0, 0, 0}; counts4(s) != want {
			t.Fatalf("categories summary %v, want %v (%v)", counts4(s), want, s.Errors)
		}
		calls := iv.take()
		if len(calls) != 1 || len(calls[0]) != int(nCats)+1 || calls[0][nCats] != "categories" {
			t.Fatalf("category import invalidated %v", calls)
		}

		s = db.importProducts(t, prodsCSV, opts)
		if want := [4]int64{rows, 0, 0, 0}; counts4(s) != want {
			t.Fatalf("products summary %v, want %v (%v)", counts4(s), want, s.Errors)
		}
		want := expectedProducts(t, prodsCSV)
		got := db.products(t)
		if len(got) != len(want) {
			t.Fatalf("%d products stored, want %d", len(got), len(want))
		}
		wantCats := map[int64]struct{}{}
		for asin, w := range want {
			if got[asin].product != w {
				t.Fatalf("product %s stored as %+v, want %+v", asin, got[asin].product, w)
			}
			wantCats[w.categoryID] = struct{}{}
		}
		if !slices.Equal(s.TouchedCategories, sortedKeys(wantCats)) {
			t.Errorf("touched %v, want %v", s.TouchedCategories, sortedKeys(wantCats))
		}
		calls = iv.take()
		if len(calls) != 1 {
			t.Fatalf("Invalidate called %d times, want once", len(calls))
		}
		wantTags := []string{}
		for _, id := range sortedKeys(wantCats) {
			wantTags = append(wantTags, "category:"+strconv.FormatInt(id, 10))
		}
		// More products inserted than tags worth invalidating one each:
		// the tag of every cached "not found" answer instead.
		wantTags = append(wantTags, "products-missing", "products")
		if !slices.Equal(calls[0], wantTags) {
			t.Errorf("invalidated %v, want %v", calls[0], wantTags)
		}

		// Re-import: nothing changes, nothing is invalidated.
		s = db.importCategories(t, catsCSV, opts)
		if want := [4]int64{0, 0, nCats, 0}; counts4(s) != want {
			t.Errorf("categories re-import %v, want %v", counts4(s), want)
		}
		s = db.importProducts(t, prodsCSV, opts)
		if want := [4]int64{0, 0, rows, 0}; counts4(s) != want {
			t.Errorf("products re-import %v, want %v", counts4(s), want)
		}
		if calls := iv.take(); len(calls) != 0 {
			t.Errorf("re-import invalidated %v", calls)
		}
		if again := db.products(t); !reflect.DeepEqual(again, got) {
			t.Error("re-import changed stored rows")
		}
	})
}

// expectedProducts parses a products file independently of the importer.
func expectedProducts(t *testing.T, data string) map[string]product {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(data, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]product{}
	for _, r := range recs[1:] {
		f := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		i := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		out[r[0]] = product{r[0], strings.TrimSpace(r[1]), r[2], r[3], f(r[4]), i(r[5]), f(r[6]), f(r[7]), i(r[8]), r[9] == "True", i(r[10])}
	}
	return out
}

// generated writes a generated catalogue of rows products (see gen.Write)
// and returns its categories and products files.
func generated(t *testing.T, rows int, seed int64) (categories, products string) {
	t.Helper()
	dir := t.TempDir()
	if err := gen.Write(dir, rows, seed); err != nil {
		t.Fatal(err)
	}
	return readFile(t, filepath.Join(dir, gen.CategoriesFile)), readFile(t, filepath.Join(dir, gen.ProductsFile))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAwkwardCSV covers what real exports contain: a byte-order mark,
// quoted fields with commas, doubled quotes and line breaks, text beyond
// ASCII, CRLF line ends, padded titles (trimmed, as the API trims them).
func TestAwkwardCSV(t *testing.T) {
	in := "\uFEFF" + prodHeader +
		`B000000001,"Cable, USB-C, 2 Pack",https://m.media-amazon.com/images/I/a.jpg,https://www.amazon.com/dp/B000000001,4.5,120,9.99,12.99,1,False,100` + "\n" +
		`B000000002,"12"" Ruler ""Pro""",http://img,http://url,0.0,0,0.0,0.0,2,True,0` + "\n" +
		"B000000003,\"Line one\nLine two\r\nLine three\",http://img,http://url,5.0,1,1.0,0.0,3,False,0\n" +
		`B000000004,Four,http://img,http://url,3,7,2,0,4,False,50` + "\n" +
		`B000000005,Café Ünïcödé 日本製 🎁 Größe,http://img,http://url,4.0,2,19.5,0.0,1,False,0` + "\r\n" +
		`B000000006,"Six",,,1.5,3,100,150,2,False,0` + "\n" +
		`B000000007,   spaced   ,http://img,http://url,2.0,4,3.25,0.0,3,False,0`
	want := map[string]product{
		"B000000001": {"B000000001", "Cable, USB-C, 2 Pack", "https://m.media-amazon.com/images/I/a.jpg", "https://www.amazon.com/dp/B000000001", 4.5, 120, 9.99, 12.99, 1, false, 100},
		"B000000002": {"B000000002", `12" Ruler "Pro"`, "http://img", "http://url", 0, 0, 0, 0, 2, true, 0},
		"B000000003": {"B000000003", "Line one\nLine two\nLine three", "http://img", "http://url", 5, 1, 1, 0, 3, false, 0},
		"B000000004": {"B000000004", "Four", "http://img", "http://url", 3, 7, 2, 0, 4, false, 50},
		"B000000005": {"B000000005", "Café Ünïcödé 日本製 🎁 Größe", "http://img", "http://url", 4, 2, 19.5, 0, 1, false, 0},
		"B000000006": {"B000000006", "Six", "", "", 1.5, 3, 100, 150, 2, false, 0},
		"B000000007": {"B000000007", "spaced", "http://img", "http://url", 2, 4, 3.25, 0, 3, false, 0},
	}
	forEachDialect(t, func(t *testing.T, db testDB) {
		db.importCategories(t, smallCategories, Options{})
		s := db.importProducts(t, in, Options{})
		if s.Failed != 0 || s.Inserted != int64(len(want)) {
			t.Fatalf("summary %v, errors %v", counts4(s), s.Errors)
		}
		got := db.products(t)
		for asin, w := range want {
			if got[asin].product != w {
				t.Errorf("%s stored as %+v, want %+v", asin, got[asin].product, w)
			}
		}
		cats := db.categories(t)
		if cats[2] != "Arts, Crafts & Sewing" || cats[4] != `Décor "Maison" & Café` {
			t.Errorf("categories stored as %v", cats)
		}
	})
}

// TestRealExportRows imports rows of the kinds real exports of the data set
// hold, each of which must be accepted: empty and blank titles, titles far
// longer than the API takes, an ISBN-10 as ASIN, zero stars, reviews, price
// and list price, large boughtInLastMonth figures, quoted fields, text beyond
// ASCII, a byte-order mark and CRLF line ends.
func TestRealExportRows(t *testing.T) {
	long := strings.Repeat("Stainless Steel Water Bottle, 日本製 ", 100) // about 4 KB
	rows := []struct {
		csv  string
		want product
	}{
		{`B0EMPTY001,,https://m.media-amazon.com/images/I/a.jpg,https://www.amazon.com/dp/B0EMPTY001,0.0,0,0.0,0.0,1,False,0`,
			product{"B0EMPTY001", "", "https://m.media-amazon.com/images/I/a.jpg", "https://www.amazon.com/dp/B0EMPTY001", 0, 0, 0, 0, 1, false, 0}},
		{`B0BLANK001,"   ",https://i,https://u,4.1,12,3.99,0.0,2,False,50`,
			product{"B0BLANK001", "", "https://i", "https://u", 4.1, 12, 3.99, 0, 2, false, 50}},
		{`B0LONG0001,"` + long + `",https://i,https://u,4.7,98765,139.99,199.99,3,True,100000`,
			product{"B0LONG0001", strings.TrimSpace(long), "https://i", "https://u", 4.7, 98765, 139.99, 199.99, 3, true, 100000}},
		{`059035342X,"Harry Potter and the Sorcerer's Stone, ""Book 1""",https://i,https://u,4.9,150000,8.99,10.99,4,False,2000`,
			product{"059035342X", `Harry Potter and the Sorcerer's Stone, "Book 1"`, "https://i", "https://u", 4.9, 150000, 8.99, 10.99, 4, false, 2000}},
		{"B0MULTI001,\"Line one\r\nLine two\",https://i,https://u,5.0,1,0.0,0.0,1,False,0",
			product{"B0MULTI001", "Line one\nLine two", "https://i", "https://u", 5, 1, 0, 0, 1, false, 0}},
	}
	var in strings.Builder
	in.WriteString("\uFEFF" + strings.ReplaceAll(prodHeader, "\n", "\r\n"))
	for _, r := range rows {
		in.WriteString(r.csv + "\r\n")
	}
	forEachDialect(t, func(t *testing.T, db testDB) {
		db.importCategories(t, smallCategories, Options{})
		s := db.importProducts(t, in.String(), Options{})
		if s.Failed != 0 || s.Inserted != int64(len(rows)) {
			t.Fatalf("summary %v, errors %v", counts4(s), s.Errors)
		}
		got := db.products(t)
		for _, r := range rows {
			if got[r.want.asin].product != r.want {
				t.Errorf("%s stored as %+v, want %+v", r.want.asin, got[r.want.asin].product, r.want)
			}
		}
	})
}

// TestValidation feeds one bad row per rule, between good rows, and checks
// each report and that the good rows land.
func TestValidation(t *testing.T) {
	good := func(asin string) string {
		return asin + `,Good,http://img,http://url,4.5,10,9.99,0.0,1,False,0` + "\n"
	}
	type bad struct {
		row    string
		column string
		reason string // substring
	}
	cases := []bad{
		{`B0000000000000000000X,t,http://i,http://u,4.5,10,9.99,0.0,1,False,0`, "asin", "1 to 20 characters"},
		{`B000-0000x,t,http://i,http://u,4.5,10,9.99,0.0,1,False,0`, "asin", "letters and digits"},
		{`,t,http://i,http://u,4.5,10,9.99,0.0,1,False,0`, "asin", "1 to 20 characters"},
		{`B0000000A1,t,http://i,http://u,five,10,9.99,0.0,1,False,0`, "stars", "number"},
		{`B0000000A2,t,http://i,http://u,5.1,10,9.99,0.0,1,False,0`, "stars", "between 0 and 5"},
		{`B0000000A3,t,http://i,http://u,-0.5,10,9.99,0.0,1,False,0`, "stars", "negative"},
		{`B0000000A4,t,http://i,http://u,NaN,10,9.99,0.0,1,False,0`, "stars", "number"},
		{`B0000000A5,t,http://i,http://u,,10,9.99,0.0,1,False,0`, "stars", "empty"},
		{`B0000000B1,t,http://i,http://u,4.5,ten,9.99,0.0,1,False,0`, "reviews", "whole number"},
		{`B0000000B2,t,http://i,http://u,4.5,-1,9.99,0.0,1,False,0`, "reviews", "negative"},
		{`B0000000B3,t,http://i,http://u,4.5,1.5,9.99,0.0,1,False,0`, "reviews", "whole number"},
		{`B0000000B4,t,http://i,http://u,4.5,99999999999999999999,9.99,0.0,1,False,0`, "reviews", "out of range"},
		{`B0000000C1,t,http://i,http://u,4.5,10,-9.99,0.0,1,False,0`, "price", "negative"},
		{`B0000000C2,t,http://i,http://u,4.5,10,$9.99,0.0,1,False,0`, "price", "number"},
		{`B0000000C3,t,http://i,http://u,4.5,10,Inf,0.0,1,False,0`, "price", "number"},
		{`B0000000C4,t,http://i,http://u,4.5,10,1e400,0.0,1,False,0`, "price", "number"},
		{`B0000000D1,t,http://i,http://u,4.5,10,9.99,-1,1,False,0`, "listPrice", "negative"},
		{`B0000000D2,t,http://i,http://u,4.5,10,9.99,x,1,False,0`, "listPrice", "number"},
		{`B0000000E1,t,http://i,http://u,4.5,10,9.99,0.0,999,False,0`, "category_id", "unknown category 999"},
		{`B0000000E2,t,http://i,http://u,4.5,10,9.99,0.0,one,False,0`, "category_id", "whole number"},
		{`B0000000E3,t,http://i,http://u,4.5,10,9.99,0.0,-1,False,0`, "category_id", "negative"},
		{`B0000000F1,t,http://i,http://u,4.5,10,9.99,0.0,1,true,0`, "isBestSeller", "True or False"},
		{`B0000000F2,t,http://i,http://u,4.5,10,9.99,0.0,1,1,0`, "isBestSeller", "True or False"},
		{`B0000000F3,t,http://i,http://u,4.5,10,9.99,0.0,1,,0`, "isBestSeller", "True or False"},
		{`B0000000G1,t,http://i,http://u,4.5,10,9.99,0.0,1,False,-50`, "boughtInLastMonth", "negative"},
		{`B0000000G2,t,http://i,http://u,4.5,10,9.99,0.0,1,False,50+`, "boughtInLastMonth", "whole number"},
		{`B0000000H1,t,http://i,http://u,4.5,10,9.99,0.0,1,False`, "", "expected 11 columns, got 10"},
		{`B0000000H2,t,http://i,http://u,4.5,10,9.99,0.0,1,False,0,extra`, "", "expected 11 columns, got 12"},
		{"B0000000I1,bad \xff utf8,http://i,http://u,4.5,10,9.99,0.0,1,False,0", "title", "UTF-8"},
		{"B0000000I2,t,http://i\x00,http://u,4.5,10,9.99,0.0,1,False,0", "imgUrl", "NUL"},
		{"B0000000I3,t,http://i,http://u\xc3,4.5,10,9.99,0.0,1,False,0", "productURL", "UTF-8"},
		// The API's rules (catalog.Product.Check).
		{`B0000000N3,` + strings.Repeat("t", 64<<10+1) + `,http://i,http://u,4.5,10,9.99,0.0,1,False,0`, "title", "at most 65536 bytes"},
		{`B0000000N4,t,javascript:alert(1),http://u,4.5,10,9.99,0.0,1,False,0`, "imgUrl", "http or https URL"},
		{`B0000000N5,t,http://i,www.amazon.com/dp/B0000000N5,4.5,10,9.99,0.0,1,False,0`, "productURL", "http or https URL"},
		{`B0000000N6,t,http://i/` + strings.Repeat("x", 2048) + `,http://u,4.5,10,9.99,0.0,1,False,0`, "imgUrl", "at most 2048 bytes"},
		{`B0000000N7,t,http://i,http://u,4.5,10,1000000000.01,0.0,1,False,0`, "price", "from 0 to 1e9"},
		{`B0000000N8,t,http://i,http://u,4.5,10,9.99,2e9,1,False,0`, "listPrice", "from 0 to 1e9"},
		{`B0000000J1,bare "quote,http://i,http://u,4.5,10,9.99,0.0,1,False,0`, "", "malformed CSV"},
		{`B0000000J2,"quoted"x,http://i,http://u,4.5,10,9.99,0.0,1,False,0`, "", "malformed CSV"},
	}
	var b strings.Builder
	b.WriteString(prodHeader)
	line := 2
	wantErrs := []RowError{}
	nGood := 0
	for i, c := range cases {
		b.WriteString(good(fmt.Sprintf("B%09d", i)))
		nGood++
		line++
		b.WriteString(c.row + "\n")
		wantErrs = append(wantErrs, RowError{Line: line, Column: c.column, Reason: c.reason})
		line++
	}
	// A multi-line good row shifts the line numbers of what follows.
	b.WriteString("B000000999,\"two\nlines\",http://i,http://u,1,1,1,1,1,False,1\n")
	nGood++
	line += 2
	b.WriteString(`B0000000K1,t,http://i,http://u,4.5,10,9.99,0.0,1,Maybe,0` + "\n")
	wantErrs = append(wantErrs, RowError{Line: line, Column: "isBestSeller", Reason: "True or False"})
	line++
	// Several bad fields in one row are each reported, and count as one
	// failed row.
	b.WriteString(`B0000000L1,t,http://i,http://u,9,x,-1,0.0,1,False,0` + "\n")
	for _, col := range []string{"stars", "reviews", "price"} {
		wantErrs = append(wantErrs, RowError{Line: line, Column: col})
	}
	line++
	// An unterminated quote swallows the rest of the file: one error.
	b.WriteString(good("B000000998"))
	nGood++
	line++
	b.WriteString("B0000000M1,\"never closed,http://i,http://u,1,1,1,1,1,False,1\nB0000000M2,t,http://i,http://u,1,1,1,1,1,False,1\n")
	wantErrs = append(wantErrs, RowError{Line: line, Column: "", Reason: "malformed CSV"})
	nBad := int64(len(cases) + 3)

	forEachDialect(t, func(t *testing.T, db testDB) {
		db.importCategories(t, smallCategories, Options{})
		s := db.importProducts(t, b.String(), Options{MaxReportedErrors: 1000})
		if want := [4]int64{int64(nGood), 0, 0, nBad}; counts4(s) != want {
			t.Errorf("summary %v, want %v", counts4(s), want)
		}
		if len(s.Errors) != len(wantErrs) {
			t.Fatalf("got %d errors, want %d: %v", len(s.Errors), len(wantErrs), s.Errors)
		}
		for i, w := range wantErrs {
			g := s.Errors[i]
			if g.Line != w.Line || g.Column != w.Column || !strings.Contains(g.Reason, w.Reason) {
				t.Errorf("error %d = %+v, want %+v", i, g, w)
			}
		}
		if n := len(db.products(t)); n != nGood {
			t.Errorf("%d products stored, want %d", n, nGood)
		}

		// The cap keeps the first errors and still counts every bad row.
		// and says how many it left out.
		s = db.importProducts(t, b.String(), Options{MaxReportedErrors: 3})
		if len(s.Errors) != 3 || s.Failed != nBad || s.Errors[0].Line != wantErrs[0].Line || s.ErrorsOmitted != int64(len(wantErrs)-3) {
			t.Errorf("capped: %d errors (%v), %d omitted, %d failed", len(s.Errors), s.Errors, s.ErrorsOmitted, s.Failed)
		}
		if want := fmt.Sprintf("… and %d more errors not listed", len(wantErrs)-3); !strings.Contains(s.String(), want) {
			t.Errorf("capped summary does not say %q:\n%s", want, s)
		}
		if full := db.importProducts(t, b.String(), Options{MaxReportedErrors: 1000}); full.ErrorsOmitted != 0 || strings.Contains(full.String(), "not listed") {
			t.Errorf("uncapped summary: %d omitted:\n%s", full.ErrorsOmitted, full)
		}
		s = db.importProducts(t, b.String(), Options{MaxReportedErrors: -1})
		if len(s.Errors) != 0 || s.Failed != nBad || s.ErrorsOmitted != int64(len(wantErrs)) {
			t.Errorf("no errors wanted: %d errors, %d omitted, %d failed", len(s.Errors), s.ErrorsOmitted, s.Failed)
		}
	})
}

func TestCategoryValidation(t *testing.T) {
	in := "\uFEFF" + catHeader + "1,Books\nx,Bad id\n-3,Negative\n4,\n5,   \n6,\"Multi\nline, name\"\n7,a,b\n8,\"bad \xfe\"\n"
	forEachDialect(t, func(t *testing.T, db testDB) {
		s := db.importCategories(t, in, Options{})
		if want := [4]int64{2, 0, 0, 6}; counts4(s) != want {
			t.Errorf("summary %v, want %v: %v", counts4(s), want, s.Errors)
		}
		want := []RowError{
			{3, "id", "must be a whole number, got \"x\""},
			{4, "id", "must not be negative, got \"-3\""},
			{5, "category_name", "must not be empty"},
			{6, "category_name", "must not be empty"},
			{9, "", "expected 2 columns, got 3"},
			{10, "category_name", "invalid UTF-8"},
		}
		if !reflect.DeepEqual(s.Errors, want) {
			t.Errorf("errors %v, want %v", s.Errors, want)
		}
		if got := db.categories(t); !reflect.DeepEqual(got, map[int64]string{1: "Books", 6: "Multi\nline, name"}) {
			t.Errorf("stored %v", got)
		}
	})
}

// TestUpdates changes some rows and checks the counts, the timestamps, and
// that both the old and the new category of a moved product are invalidated.
func TestUpdates(t *testing.T) {
	v1 := prodHeader +
		"B000000001,One,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n" +
		"B000000002,Two,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n" +
		"B000000003,Three,http://i,http://u,4.5,10,9.99,0.0,2,False,0\n"
	v2 := prodHeader +
		"B000000001,One,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n" + // unchanged
		"B000000002,Two,http://i,http://u,4.5,10,9.99,0.0,3,False,0\n" + // moved from 1 to 3
		"B000000003,Three,http://i,http://u,4.5,10,8.99,0.0,2,True,0\n" + // price and flag in 2
		"B000000004,Four,http://i,http://u,1,1,1,1,4,False,0\n" // new in 4
	forEachDialect(t, func(t *testing.T, db testDB) {
		var iv invalidations
		db.importCategories(t, smallCategories, Options{})
		db.importProducts(t, v1, Options{})
		before := db.products(t)

		s := db.importProducts(t, v2, Options{Invalidate: iv.fn})
		if want := [4]int64{1, 2, 1, 0}; counts4(s) != want {
			t.Errorf("summary %v, want %v", counts4(s), want)
		}
		if want := []int64{1, 2, 3, 4}; !slices.Equal(s.TouchedCategories, want) {
			t.Errorf("touched %v, want %v", s.TouchedCategories, want)
		}
		// The new product's tag too: a cached "not found" of it carries it.
		want := [][]string{{"category:1", "category:2", "category:3", "category:4", "product:B000000004", "products"}}
		if calls := iv.take(); !reflect.DeepEqual(calls, want) {
			t.Errorf("invalidated %v, want %v", calls, want)
		}
		after := db.products(t)
		if after["B000000002"].categoryID != 3 || after["B000000003"].price != 8.99 || !after["B000000003"].bestSeller {
			t.Errorf("updates not stored: %+v", after)
		}
		for _, a := range []string{"B000000001", "B000000002", "B000000003"} {
			if after[a].created != before[a].created {
				t.Errorf("%s created_at changed from %s to %s", a, before[a].created, after[a].created)
			}
		}
		if after["B000000001"].updated != before["B000000001"].updated {
			t.Error("unchanged row got a new updated_at")
		}
		for _, a := range []string{"B000000002", "B000000003"} {
			if after[a].updated == before[a].updated {
				t.Errorf("%s kept updated_at %s", a, after[a].updated)
			}
		}

		// Categories: a renamed one is updated and invalidated.
		s = db.importCategories(t, catHeader+"1,Beading & Jewelry Making\n2,Renamed\n", Options{Invalidate: iv.fn})
		if want := [4]int64{0, 1, 1, 0}; counts4(s) != want {
			t.Errorf("category summary %v, want %v", counts4(s), want)
		}
		if calls := iv.take(); !reflect.DeepEqual(calls, [][]string{{"category:2", "categories"}}) {
			t.Errorf("invalidated %v", calls)
		}
	})
}

// TestDuplicatesInFile: a key repeated in one file applies in file order,
// whatever the batch boundaries.
func TestDuplicatesInFile(t *testing.T) {
	in := prodHeader +
		"B000000001,First,http://i,http://u,1,1,1.0,0.0,1,False,0\n" +
		"B000000002,Other,http://i,http://u,1,1,1.0,0.0,1,False,0\n" +
		"B000000001,Second,http://i,http://u,1,1,2.0,0.0,2,False,0\n" +
		"B000000001,Second,http://i,http://u,1,1,2.0,0.0,2,False,0\n" +
		"B000000001,Third,http://i,http://u,1,1,3.0,0.0,3,False,0\n"
	for _, bs := range []int{1, 2, 3, 100} {
		t.Run(fmt.Sprintf("batch%d", bs), func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db testDB) {
				db.importCategories(t, smallCategories, Options{})
				s := db.importProducts(t, in, Options{BatchSize: bs})
				if want := [4]int64{2, 2, 1, 0}; counts4(s) != want {
					t.Errorf("summary %v, want %v", counts4(s), want)
				}
				if p := db.products(t)["B000000001"]; p.title != "Third" || p.price != 3 || p.categoryID != 3 {
					t.Errorf("stored %+v", p)
				}
				if want := []int64{1, 2, 3}; !slices.Equal(s.TouchedCategories, want) {
					t.Errorf("touched %v, want %v", s.TouchedCategories, want)
				}
			})
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	cases := map[string]string{
		"empty":          "",
		"only BOM":       "\uFEFF",
		"wrong names":    "asin,name,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n",
		"missing column": "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller\n",
		"no header":      "B000000001,One,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n",
	}
	forEachDialect(t, func(t *testing.T, db testDB) {
		db.importCategories(t, smallCategories, Options{})
		for name, in := range cases {
			t.Run(name, func(t *testing.T) {
				s, err := New(db.DB, db.dialect).ImportProducts(context.Background(), strings.NewReader(in), Options{})
				if !errors.Is(err, ErrHeader) {
					t.Errorf("err = %v, want ErrHeader", err)
				}
				if s.Inserted != 0 {
					t.Errorf("inserted %d", s.Inserted)
				}
			})
		}
		_, err := New(db.DB, db.dialect).ImportCategories(context.Background(), strings.NewReader(prodHeader), Options{})
		if !errors.Is(err, ErrHeader) {
			t.Errorf("categories with the products header: err = %v", err)
		}
		// Case and spaces in the header do not matter.
		s := db.importProducts(t, "ASIN, Title ,imgurl,producturl,stars,reviews,price,listprice,CATEGORY_ID,isbestseller,boughtinlastmonth\nB000000001,One,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n", Options{})
		if s.Inserted != 1 {
			t.Errorf("relaxed header: %v", counts4(s))
		}
	})
}

func TestUnknownDialect(t *testing.T) {
	db := newSQLite(t)
	_, err := New(db.DB, "mysql").ImportProducts(context.Background(), strings.NewReader(prodHeader), Options{})
	if !errors.Is(err, ErrDialect) {
		t.Errorf("err = %v, want ErrDialect", err)
	}
	_, err = New(db.DB, "").ImportCategories(context.Background(), strings.NewReader(catHeader), Options{})
	if !errors.Is(err, ErrDialect) {
		t.Errorf("err = %v, want ErrDialect", err)
	}
}

// cancelAfter cancels a context once n bytes have been read through it.
type cancelAfter struct {
	r      *strings.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	if len(b) > 4096 {
		b = b[:4096]
	}
	n, err := c.r.Read(b)
	c.n -= n
	return n, err
}

// TestCancel: a cancelled import stops with the context's error, keeps the
// batches it committed, and still invalidates their categories. On SQLite
// the table is filled beforehand, so that the import does not take the bulk
// path, which runs in one transaction (TestSQLiteBulkCancel).
func TestCancel(t *testing.T) {
	cats, prods := generated(t, 20000, 3)
	forEachDialect(t, func(t *testing.T, db testDB) {
		db.importCategories(t, cats, Options{})
		fillers := 0
		if db.dialect == "sqlite" {
			fillers = db.seedFillers(t, sqliteBulkMaxRows+1)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var iv invalidations
		r := &cancelAfter{r: strings.NewReader(prods), n: len(prods) / 2, cancel: cancel}
		s, err := New(db.DB, db.dialect).ImportProducts(ctx, r, Options{BatchSize: 500, Invalidate: iv.fn})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		stored := int64(len(db.products(t)) - fillers)
		if s.Inserted != stored || stored == 0 || stored >= 20000 {
			t.Errorf("summary says %d inserted, %d stored", s.Inserted, stored)
		}
		if calls := iv.take(); len(calls) != 1 {
			t.Errorf("Invalidate called %d times after a cancel, want once", len(calls))
		}
	})
}

// TestInvalidateError: the invalidation error is returned with a summary of
// the committed rows.
func TestInvalidateError(t *testing.T) {
	db := newSQLite(t)
	boom := errors.New("redis down")
	s, err := New(db.DB, db.dialect).ImportCategories(context.Background(), strings.NewReader(smallCategories),
		Options{Invalidate: func(context.Context, ...string) error { return boom }})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
	if s.Inserted != 4 {
		t.Errorf("inserted %d, want 4", s.Inserted)
	}
}

// TestProgress: the callback sees growing counts and a final Done call with
// the totals.
func TestProgress(t *testing.T) {
	cats, prods := generated(t, 5000, 5)
	db := newSQLite(t)
	db.importCategories(t, cats, Options{})
	var got []Progress
	db.importProducts(t, prods, Options{Progress: func(p Progress) { got = append(got, p) }})
	if len(got) == 0 {
		t.Fatal("Progress never called")
	}
	last := got[len(got)-1]
	if !last.Done || last.Rows != 5000 || last.Bytes != int64(len(prods)) || last.RowsPerSecond <= 0 {
		t.Errorf("last progress %+v", last)
	}
	for i, p := range got[:len(got)-1] {
		if p.Done {
			t.Errorf("call %d has Done before the end", i)
		}
	}
}

// TestSQLiteConnectionRestored: the import changes the connection's
// foreign_keys and cache_size while it runs and puts them back.
func TestSQLiteConnectionRestored(t *testing.T) {
	db := newSQLite(t)
	db.SetMaxOpenConns(1) // every query below uses the import's connection
	var fk, cache int64
	db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	db.QueryRow(`PRAGMA cache_size`).Scan(&cache)
	db.importCategories(t, smallCategories, Options{})
	db.importProducts(t, prodHeader+"B000000001,One,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n", Options{})
	var fk2, cache2 int64
	db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk2)
	db.QueryRow(`PRAGMA cache_size`).Scan(&cache2)
	if fk != 1 || fk2 != fk || cache2 != cache {
		t.Errorf("foreign_keys %d → %d, cache_size %d → %d", fk, fk2, cache, cache2)
	}
}

// TestSQLiteCategoryGone: with SQLite's foreign keys off during the import,
// the writer's own check catches a category that disappeared. (The stored
// rows keep the writer off the bulk path, whose finish builds indexes.)
func TestSQLiteCategoryGone(t *testing.T) {
	db := newSQLite(t)
	db.importCategories(t, smallCategories, Options{})
	db.seedFillers(t, sqliteBulkMaxRows+1)
	ctx := context.Background()
	conn, w := db.openSQLiteWriter(t)
	tx := &txState{touched: map[int64]struct{}{}}
	w.begin(ctx)
	if err := w.write(ctx, []product{{asin: "B000000001", categoryID: 1}}, tx); err != nil {
		t.Fatal(err)
	}
	if err := w.finish(ctx, tx); err != nil {
		t.Fatalf("finish with existing category: %v", err)
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM categories WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if err := w.finish(ctx, tx); !errors.Is(err, ErrCategoryGone) {
		t.Errorf("finish after the category was deleted: %v, want ErrCategoryGone", err)
	}
}

// TestInsertedTags: an import invalidates the tag of each product it
// inserts (a cached "not found" carries it), up to maxInsertedTags of them,
// across transactions; beyond, the one tag of every cached "not found".
// Updated and unchanged products add no product tag.
func TestInsertedTags(t *testing.T) {
	file := func(from, n int) string {
		var b strings.Builder
		b.WriteString(prodHeader)
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, "B%09d,Product %d,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n", i, i)
		}
		return b.String()
	}
	forEachDialect(t, func(t *testing.T, db testDB) {
		db.importCategories(t, smallCategories, Options{})
		var iv invalidations
		opts := Options{BatchSize: 300, Invalidate: iv.fn}

		db.importProducts(t, file(0, maxInsertedTags), opts)
		calls := iv.take()
		if len(calls) != 1 || len(calls[0]) != maxInsertedTags+2 || calls[0][1] != "product:B000000000" ||
			calls[0][maxInsertedTags] != fmt.Sprintf("product:B%09d", maxInsertedTags-1) {
			t.Fatalf("%d inserted: invalidated %d tags %.4q…", maxInsertedTags, len(calls[0]), calls[0])
		}

		// The same rows and one more, with the first changed: one new
		// product, so one product tag.
		more := strings.Replace(file(0, maxInsertedTags+1), "Product 0,", "Product zero,", 1)
		db.importProducts(t, more, opts)
		if calls := iv.take(); !reflect.DeepEqual(calls, [][]string{{"category:1", fmt.Sprintf("product:B%09d", maxInsertedTags), "products"}}) {
			t.Fatalf("one inserted, one updated: invalidated %v", calls)
		}

		db.importProducts(t, file(10*maxInsertedTags, maxInsertedTags+1), opts)
		if calls := iv.take(); !reflect.DeepEqual(calls, [][]string{{"category:1", "products-missing", "products"}}) {
			t.Fatalf("%d inserted: invalidated %.5q", maxInsertedTags+1, calls)
		}
	})
}
