package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/dbtest"
)

func TestLoadSample(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// The seeded database is not empty: nothing is loaded.
		if err := e.app.LoadSample(ctx, os.DirFS("../../data/sample")); err != nil {
			t.Fatal(err)
		}
		if n := e.count("categories"); n != 3 {
			t.Fatalf("%d categories after LoadSample on a non-empty database, want 3", n)
		}
		if _, err := e.app.DB.ExecContext(ctx, "DELETE FROM products"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.app.DB.ExecContext(ctx, "DELETE FROM categories"); err != nil {
			t.Fatal(err)
		}
		if err := e.app.LoadSample(ctx, os.DirFS("../../data/sample")); err != nil {
			t.Fatal(err)
		}
		if c, p := e.count("categories"), e.count("products"); c != 30 || p != 66 {
			t.Fatalf("sample: %d categories, %d products; want 30 and 66", c, p)
		}
	})
}

func TestImportBadInput(t *testing.T) {
	e := newEnv(t, "sqlite", map[string]string{"MAX_IMPORT_BYTES": "4096"})
	products := e.count("products")
	header := "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n"
	row := "B0IMPORT01,Beads,https://m.media-amazon.com/images/I/b.jpg,https://www.amazon.com/dp/B0IMPORT01,4.0,3,2.0,0.0,1,False,0\n"

	var noFile bytes.Buffer
	mw := multipart.NewWriter(&noFile)
	mw.WriteField("note", "no file here")
	mw.Close()

	tests := []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"wrong header", "id,name\n1,x\n", "text/csv", 400, "invalid_csv"},
		{"empty body", "", "text/csv", 400, "invalid_csv"},
		{"oversized", header + strings.Repeat(row, 100), "text/csv", 413, "body_too_large"},
		{"JSON instead of CSV", `{"asin":"x"}`, "application/json", 415, "unsupported_media_type"},
		{"multipart without file", noFile.String(), mw.FormDataContentType(), 400, "missing_file"},
		{"broken multipart", "--nope\r\n", "multipart/form-data; boundary=other", 400, "invalid_multipart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", "/admin/import/products", e.admin, tt.body, "Content-Type", tt.contentType)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.body)
			}
			var eb struct{ Error, Message string }
			r.json(t, &eb)
			if eb.Error != tt.code || eb.Message == "" {
				t.Fatalf("error body %s, want code %s", r.body, tt.code)
			}
		})
	}
	if got := e.count("products"); got != products {
		t.Fatalf("%d products after refused imports, want %d", got, products)
	}
	// Bad rows are reported with their line and the rest is imported.
	var sum struct {
		Inserted, Failed int64
		Errors           []struct {
			Line   int
			Column string
			Reason string
		}
	}
	e.must(e.do("POST", "/admin/import/products", e.admin, header+row+"B0BADROW01,x,,,9,1,1,1,1,False,0\n", "Content-Type", "text/csv"), 200).json(t, &sum)
	if sum.Inserted != 1 || sum.Failed != 1 || len(sum.Errors) != 1 || sum.Errors[0].Line != 3 {
		t.Fatalf("summary %+v", sum)
	}
	e.must(e.do("POST", "/admin/import/products", e.userToken(), header+row, "Content-Type", "text/csv"), 403)
}

// chunkedBody hides the length of its reader, so that the request is sent
// chunked (curl -T -) and the server cannot refuse it up front.
type chunkedBody struct{ r io.Reader }

func (c chunkedBody) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestImportChunkedOversized sends, without a Content-Length, a file whose
// first rows fill more than one of the importer's transactions (10 000 rows
// on PostgreSQL) before the import limit is reached: the upload is refused
// and none of its rows are left in the database. (On SQLite, where a
// transaction holds 100 000 rows and an import into a nearly empty table
// only one, the file would have to be far larger to reach a commit; the
// handler's own test, in httpapi, covers every dialect.)
func TestImportChunkedOversized(t *testing.T) {
	header := "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n"
	var file strings.Builder
	file.WriteString(header)
	limit := 0
	for i := range 12000 {
		fmt.Fprintf(&file, "B0C%07d,Chunked upload product %d,,,4.0,3,2.0,0.0,1,False,0\n", i, i)
		if i == 10500 {
			limit = file.Len()
		}
	}
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, dialect, map[string]string{"MAX_IMPORT_BYTES": strconv.Itoa(limit)})
			tmp := t.TempDir() // after newEnv, whose SQLite file must not land in it
			t.Setenv("TMPDIR", tmp)
			products := e.count("products")
			post := func(body string) *response {
				return e.do("POST", "/admin/import/products", e.admin, chunkedBody{strings.NewReader(body)}, "Content-Type", "text/csv")
			}

			r := post(file.String())
			if r.StatusCode != 413 || !strings.Contains(string(r.body), "body_too_large") {
				t.Fatalf("status %d, want 413 body_too_large: %s", r.StatusCode, r.body)
			}
			if got := e.count("products"); got != products {
				t.Fatalf("%d products after a refused chunked import, want %d", got, products)
			}

			// Within the limit, a chunked upload imports as any other.
			var sum struct{ Inserted, Failed int64 }
			small := header + strings.Join(strings.SplitAfter(file.String()[len(header):], "\n")[:100], "")
			e.must(post(small), 200).json(t, &sum)
			if sum.Inserted != 100 || sum.Failed != 0 || e.count("products") != products+100 {
				t.Fatalf("summary %+v, %d products; want 100 inserted", sum, e.count("products"))
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("%d spooled uploads left in TMPDIR", len(left))
			}
		})
	}
}

// TestImportInvalidatesNotFound: a product read before it exists leaves a
// cached "not found"; the import that creates it invalidates that answer,
// by the product's tag for a small import, and by the tag of every cached
// "not found" for one that inserts more than a tag per product is worth.
func TestImportInvalidatesNotFound(t *testing.T) {
	header := "asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n"
	row := func(asin string) string {
		return asin + ",Imported after a miss,https://m.media-amazon.com/images/I/x.jpg,https://www.amazon.com/dp/" + asin + ",4.0,3,2.0,0.0,1,False,0\n"
	}
	tests := []struct {
		name  string
		asin  string
		extra int // further new products in the same file
	}{
		{"one product", "B0MISSED01", 0},
		{"a large import", "B0MISSED02", 2000},
	}
	forEachDialect(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.with(t)
				e.must(e.do("GET", "/products/"+tt.asin, "", nil), 404)
				e.must(e.do("GET", "/products/"+tt.asin+"?nocache=true", "", nil), 404) // not an admin: served by the caches
				file := header + row(tt.asin)
				for i := range tt.extra {
					file += row(fmt.Sprintf("B1%08d", i))
				}
				var sum struct{ Inserted int64 }
				e.must(e.do("POST", "/admin/import/products", e.admin, file, "Content-Type", "text/csv"), 200).json(t, &sum)
				if sum.Inserted != int64(tt.extra+1) {
					t.Fatalf("inserted %d, want %d", sum.Inserted, tt.extra+1)
				}
				if p := e.product("/products/"+tt.asin, "MISS"); p.ASIN != tt.asin || p.Title != "Imported after a miss" {
					t.Fatalf("after the import: %+v", p)
				}
			})
		}
	})
}
