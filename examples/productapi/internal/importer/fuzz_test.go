package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
)

// parseAll runs the parser over in without a database and returns the valid
// rows, the failed-row count and the reported errors.
func parseAll(t *testing.T, in []byte, known knownSet, batchSize int) ([]product, *parser[product]) {
	t.Helper()
	p := newParser(bytes.NewReader(in), productFormat(known), Options{BatchSize: batchSize, MaxReportedErrors: 1 << 30}, dedupeTx, time.Now())
	go p.run(context.Background())
	var rows []product
	for b := range p.batches {
		rows = append(rows, b.rows...)
		p.recycle(b)
	}
	return rows, p
}

// FuzzParseProducts feeds arbitrary bytes after a valid header and checks
// that the parser never panics, that every row it lets through obeys every
// rule, that good and failed rows add up, and that the good rows survive a
// round trip through a CSV writer unchanged.
func FuzzParseProducts(f *testing.F) {
	seeds := []string{
		"B000000001,\"Cable, USB-C, 2 Pack\",http://img,http://url,4.5,120,9.99,12.99,1,False,100\n",
		"B000000002,\"12\"\" Ruler\",http://img,http://url,0.0,0,0.0,0.0,2,True,0\n",
		"B000000003,\"a\nb\r\nc\",http://i,http://u,5,1,1,0,1,False,0\r\n",
		"B000000004,,,,3,7,2,0,2,False,50",
		"B000000006,\"  padded  \",,,3,7,2,0,2,False,50\n",
		"B000000007,t,javascript:x,ftp://u,3,7,1e10,2e9,2,False,50\n",
		"B000000005,Café 日本製 🎁,http://i,http://u,4.0,2,19.5,0.0,1,False,0\n",
		"B00000000,t,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n",
		"B0000000A2,t,http://i,http://u,5.1,10,9.99,0.0,1,False,0\n",
		"B0000000C3,t,http://i,http://u,4.5,10,Inf,0.0,1,False,0\n",
		"B0000000E1,t,http://i,http://u,4.5,10,9.99,0.0,999,False,0\n",
		"B0000000H1,t,http://i,http://u,4.5,10,9.99,0.0,1,False\n",
		"B0000000I1,bad \xff,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n",
		"B0000000J1,bare \"quote,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n",
		"B0000000M1,\"never closed,http://i,http://u,1,1,1,1,1,False,1\n",
		"B000000001,a,http://i,http://u,1,1,1,1,1,False,1\nB000000001,b,http://i,http://u,1,1,1,1,2,True,1\n",
		"\n\n,,,,,,,,,,\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	known := knownSet{1: {}, 2: {}}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append([]byte(prodHeader), body...)
		rows, p := parseAll(t, in, known, 3)
		if p.err != nil {
			t.Fatalf("parser error %v", p.err)
		}
		if got := int64(len(rows)) + p.failed; got != p.rows.Load() {
			t.Fatalf("%d good + %d failed != %d read", len(rows), p.failed, p.rows.Load())
		}
		if p.failed > 0 && len(p.errs) == 0 {
			t.Fatal("failed rows without an error")
		}
		lines := bytes.Count(in, []byte("\n")) + 1
		for _, e := range p.errs {
			if e.Line < 2 || e.Line > lines || e.Reason == "" {
				t.Fatalf("bad report %+v (input has %d lines)", e, lines)
			}
		}
		for _, r := range rows {
			if checkASIN(r.asin) != "" || !utf8.ValidString(r.title+r.imgURL+r.productURL) ||
				strings.ContainsRune(r.title+r.imgURL+r.productURL, 0) ||
				!(r.stars >= 0 && r.stars <= 5) || r.reviews < 0 || !(r.price >= 0) || !(r.listPrice >= 0) ||
				r.bought < 0 {
				t.Fatalf("invalid row let through: %+v", r)
			}
			cp := catalog.Product{ASIN: r.asin, Title: r.title, ImgURL: r.imgURL, ProductURL: r.productURL,
				Stars: r.stars, Reviews: r.reviews, Price: r.price, ListPrice: r.listPrice,
				CategoryID: r.categoryID, IsBestSeller: r.bestSeller, BoughtInLastMonth: r.bought}
			var bad []string
			if !cp.CheckImported(func(field, reason string) { bad = append(bad, field+": "+reason) }) || cp.Title != r.title {
				t.Fatalf("row the import rules refuse let through: %+v: %v (title %q)", r, bad, cp.Title)
			}
			if _, ok := known[r.categoryID]; !ok {
				t.Fatalf("unknown category let through: %+v", r)
			}
		}

		// Round trip.
		var buf bytes.Buffer
		buf.WriteString(prodHeader)
		w := csv.NewWriter(&buf)
		for _, r := range rows {
			w.Write([]string{r.asin, r.title, r.imgURL, r.productURL,
				strconv.FormatFloat(r.stars, 'g', -1, 64), strconv.FormatInt(r.reviews, 10),
				strconv.FormatFloat(r.price, 'g', -1, 64), strconv.FormatFloat(r.listPrice, 'g', -1, 64),
				strconv.FormatInt(r.categoryID, 10), strconv.FormatBool(r.bestSeller), strconv.FormatInt(r.bought, 10)})
		}
		w.Flush()
		again, p2 := parseAll(t, bytes.ReplaceAll(bytes.ReplaceAll(buf.Bytes(), []byte(",true,"), []byte(",True,")), []byte(",false,"), []byte(",False,")), known, 1000)
		if p2.failed != 0 || len(again) != len(rows) {
			t.Fatalf("round trip: %d rows, %d failed (%v), want %d", len(again), p2.failed, p2.errs, len(rows))
		}
		for i := range rows {
			if again[i] != rows[i] {
				t.Fatalf("round trip changed %+v into %+v", rows[i], again[i])
			}
		}
	})
}

// FuzzParseCategories does the same for the categories file.
func FuzzParseCategories(f *testing.F) {
	for _, s := range []string{"1,Books\n", "2,\"Arts, Crafts\"\n", "x,y\n", "3,\n", "4,\"a\nb\"\n", "5,a,b\n", "\"6\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append([]byte(catHeader), body...)
		p := newParser(bytes.NewReader(in), categoryFormat, Options{BatchSize: 2, MaxReportedErrors: 1 << 30}, dedupeNone, time.Now())
		go p.run(context.Background())
		var n int64
		for b := range p.batches {
			for _, c := range b.rows {
				n++
				if c.id < 0 || !utf8.ValidString(c.name) || strings.TrimSpace(c.name) == "" {
					t.Fatalf("invalid category let through: %+v", c)
				}
			}
			p.recycle(b)
		}
		if p.err != nil {
			t.Fatal(p.err)
		}
		if n+p.failed != p.rows.Load() {
			t.Fatalf("%d good + %d failed != %d read", n, p.failed, p.rows.Load())
		}
	})
}
