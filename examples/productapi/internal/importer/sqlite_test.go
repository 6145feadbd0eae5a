package importer

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cachefront/cachefront/examples/productapi/internal/gen"
)

// indexDefs returns the CREATE INDEX statements of products, sorted.
func (db testDB) indexDefs(t *testing.T) []string {
	t.Helper()
	rows, err := db.Query(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'products' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var defs []string
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			t.Fatal(err)
		}
		defs = append(defs, def)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(defs)
	return defs
}

// openSQLiteWriter opens a products writer on a connection of its own. The
// test's cleanup closes both; a caller may close them earlier.
func (db testDB) openSQLiteWriter(t *testing.T) (*sql.Conn, *sqliteProducts) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &sqliteProducts{known: knownSet{}}
	if err := w.open(ctx, conn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close(ctx) })
	return conn, w
}

// TestSQLiteBulkLoad imports one file twice: into an empty table (the bulk
// path: one transaction, indexes built at the end) and into a table that
// already holds the file's first row (the batched path). Both must store the
// same rows, report the same bad rows, and count alike, the seeded row
// aside; the bulk path must leave every index as the migrations made it.
func TestSQLiteBulkLoad(t *testing.T) {
	dir := t.TempDir()
	const rows = 3000
	if err := gen.Write(dir, rows, 7); err != nil {
		t.Fatal(err)
	}
	cats := readFile(t, filepath.Join(dir, gen.CategoriesFile))
	prods := readFile(t, filepath.Join(dir, gen.ProductsFile))
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(prods, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	line := func(rec []string) string {
		var b strings.Builder
		w := csv.NewWriter(&b)
		w.Write(rec)
		w.Flush()
		return b.String()
	}
	// The file's second product again, moved to the first product's
	// category and repriced (an update); its third product again,
	// identical (unchanged); a bad row.
	moved := slices.Clone(recs[2])
	moved[6], moved[8] = "1234.5", recs[1][8]
	prods += line(moved) + line(recs[3]) + "B0BADBADBA,Bad,i,u,9.9,1,1,1," + moved[8] + ",False,0\n"
	want := expectedProducts(t, prods)
	delete(want, "B0BADBADBA")

	opts := Options{BatchSize: 700}
	bulk := newSQLite(t)
	fresh := bulk.indexDefs(t)
	if len(fresh) != 7 {
		t.Fatalf("the migrations create %d indexes on products, want 7", len(fresh))
	}
	bulk.importCategories(t, cats, opts)
	bs := bulk.importProducts(t, prods, opts)
	if got, want := counts4(bs), [4]int64{rows, 1, 1, 1}; got != want {
		t.Errorf("bulk summary %v, want %v (%v)", got, want, bs.Errors)
	}

	batched := newSQLite(t)
	batched.importCategories(t, cats, opts)
	batched.importProducts(t, line(recs[0])+line(recs[1]), opts)
	ps := batched.importProducts(t, prods, opts)
	if got, want := counts4(ps), [4]int64{rows - 1, 1, 2, 1}; got != want {
		t.Errorf("batched summary %v, want %v (%v)", got, want, ps.Errors)
	}

	if !reflect.DeepEqual(bs.Errors, ps.Errors) || len(bs.Errors) != 1 || bs.Errors[0].Column != "stars" {
		t.Errorf("bad rows: bulk %v, batched %v", bs.Errors, ps.Errors)
	}
	for name, db := range map[string]testDB{"bulk": bulk, "batched": batched} {
		got := db.products(t)
		if len(got) != len(want) {
			t.Errorf("%s: %d products stored, want %d", name, len(got), len(want))
		}
		for asin, w := range want {
			if got[asin].product != w {
				t.Errorf("%s: product %s stored as %+v, want %+v", name, asin, got[asin].product, w)
			}
		}
		if defs := db.indexDefs(t); !slices.Equal(defs, fresh) {
			t.Errorf("%s: indexes after the import %q, want %q", name, defs, fresh)
		}
		var check string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("%s: integrity_check %q, %v", name, check, err)
		}
	}
	wantCats := map[int64]struct{}{}
	for _, p := range want {
		wantCats[p.categoryID] = struct{}{}
	}
	if !slices.Equal(bs.TouchedCategories, sortedKeys(wantCats)) {
		t.Errorf("bulk touched %v, want %v", bs.TouchedCategories, sortedKeys(wantCats))
	}
	// The indexes work: a query the list endpoint makes uses one.
	var plan string
	var id, parent, notUsed int
	err = bulk.QueryRow(`EXPLAIN QUERY PLAN SELECT asin FROM products WHERE category_id = 1 ORDER BY price, asin`).
		Scan(&id, &parent, &notUsed, &plan)
	if err != nil || !strings.Contains(plan, "products_category_price") {
		t.Errorf("query plan %q, %v: the rebuilt index is not used", plan, err)
	}

	// A re-import of the bulk-loaded table takes the batched path. The
	// moved product changes twice again, as the file says.
	if s := bulk.importProducts(t, prods, opts); counts4(s) != [4]int64{0, 2, rows, 1} {
		t.Errorf("re-import %v", counts4(s))
	}
}

// TestSQLiteBulkCancel: a cancelled bulk load commits nothing, invalidates
// nothing, and leaves the table and its indexes as they were.
func TestSQLiteBulkCancel(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, 20000, 3); err != nil {
		t.Fatal(err)
	}
	prods := readFile(t, filepath.Join(dir, gen.ProductsFile))
	db := newSQLite(t)
	fresh := db.indexDefs(t)
	db.importCategories(t, readFile(t, filepath.Join(dir, gen.CategoriesFile)), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var iv invalidations
	r := &cancelAfter{r: strings.NewReader(prods), n: len(prods) / 2, cancel: cancel}
	s, err := New(db.DB, db.dialect).ImportProducts(ctx, r, Options{BatchSize: 500, Invalidate: iv.fn})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(db.products(t)); n != 0 || s.Inserted != 0 {
		t.Errorf("%d products stored, %d reported inserted, want none", n, s.Inserted)
	}
	if calls := iv.take(); len(calls) != 0 {
		t.Errorf("invalidated %v", calls)
	}
	if defs := db.indexDefs(t); !slices.Equal(defs, fresh) {
		t.Errorf("indexes after the cancel %q, want %q", defs, fresh)
	}
	if s := db.importProducts(t, prods, Options{}); s.Inserted != 20000 {
		t.Errorf("import after the cancel: %v", counts4(s))
	}
}

// TestSQLiteBulkOnlyWhenEmpty: the writer takes the bulk path on an empty
// table only.
func TestSQLiteBulkOnlyWhenEmpty(t *testing.T) {
	db := newSQLite(t)
	db.importCategories(t, smallCategories, Options{})
	ctx := context.Background()
	begin := func() bool {
		t.Helper()
		conn, w := db.openSQLiteWriter(t)
		defer conn.Close()
		defer w.close(ctx)
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(ctx, `ROLLBACK`)
		whole, err := w.begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return whole
	}
	if !begin() {
		t.Error("empty table: begin did not take the bulk path")
	}
	db.importProducts(t, prodHeader+"B000000001,One,i,u,4.5,10,9.99,0.0,1,False,0\n", Options{})
	if begin() {
		t.Error("table with a row: begin took the bulk path")
	}
}
