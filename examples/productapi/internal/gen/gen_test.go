package gen

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWriteIsDeterministic(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := Write(d, 2000, 7); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(c, 2000, 8); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ProductsFile, CategoriesFile} {
		x := read(t, filepath.Join(a, name))
		if !bytes.Equal(x, read(t, filepath.Join(b, name))) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
		if name == ProductsFile && bytes.Equal(x, read(t, filepath.Join(c, name))) {
			t.Errorf("%s is the same for different seeds", name)
		}
	}
}

func TestWriteFormat(t *testing.T) {
	dir := t.TempDir()
	const rows = 20000
	if err := Write(dir, rows, 1); err != nil {
		t.Fatal(err)
	}

	cats := readCSV(t, filepath.Join(dir, CategoriesFile))
	if got := strings.Join(cats[0], ","); got != "id,category_name" {
		t.Errorf("categories header = %q", got)
	}
	if n := len(cats) - 1; n < 230 || n > 280 {
		t.Errorf("%d categories, want about 250", n)
	}
	ids := map[string]bool{}
	for _, c := range cats[1:] {
		ids[c[0]] = true
	}

	raw := read(t, filepath.Join(dir, ProductsFile))
	if !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		t.Error("products file does not start with a byte-order mark")
	}
	prods := readCSV(t, filepath.Join(dir, ProductsFile))
	want := "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth"
	if got := strings.TrimPrefix(strings.Join(prods[0], ","), "\uFEFF"); got != want {
		t.Errorf("products header = %q", got)
	}
	if len(prods)-1 != rows {
		t.Fatalf("%d products, want %d", len(prods)-1, rows)
	}
	var newline, quote, comma, nonASCII, best, empty int
	asins := map[string]bool{}
	for _, p := range prods[1:] {
		if len(p[0]) != 10 || asins[p[0]] {
			t.Fatalf("bad or duplicate ASIN %q", p[0])
		}
		asins[p[0]] = true
		if !ids[p[8]] {
			t.Fatalf("product %s has unknown category %s", p[0], p[8])
		}
		if p[9] != "True" && p[9] != "False" {
			t.Fatalf("isBestSeller = %q", p[9])
		}
		title := p[1]
		switch {
		case title == "":
			empty++
		case strings.Contains(title, "\n"):
			newline++
		}
		if strings.Contains(title, `"`) {
			quote++
		}
		if strings.Contains(title, ",") {
			comma++
		}
		if strings.ContainsFunc(title, func(r rune) bool { return r > 127 }) {
			nonASCII++
		}
		if p[9] == "True" {
			best++
		}
		for _, col := range []int{6, 7} { // price, listPrice: whole cents
			if !centsPattern.MatchString(p[col]) {
				t.Fatalf("product %s: column %d is %q, want a price in whole cents", p[0], col, p[col])
			}
		}
	}
	for name, n := range map[string]int{"newline": newline, "quote": quote,
		"comma": comma, "non-ASCII": nonASCII, "best seller": best, "empty": empty} {
		if n == 0 {
			t.Errorf("no %s titles in %d rows", name, rows)
		}
	}
}

var centsPattern = regexp.MustCompile(`^[0-9]+\.[0-9]{1,2}$`)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(read(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
