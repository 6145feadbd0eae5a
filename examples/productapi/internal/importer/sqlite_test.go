package importer

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
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

// seedFillers stores n products that no test file holds (ASINs Z000000001
// and up, in the highest category) and returns n.
func (db testDB) seedFillers(t *testing.T, n int) int {
	t.Helper()
	_, err := db.Exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO products (asin, title, category_id, created_at, updated_at)
		SELECT printf('Z%09d', i), 'Filler', (SELECT max(id) FROM categories),
			'2020-01-01T00:00:00.000000000Z', '2020-01-01T00:00:00.000000000Z' FROM seq`, n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSQLiteBulkLoad imports one file into a table holding a few rows (the
// bulk path: one transaction, indexes built at the end, lookups filtered)
// and into one holding more than sqliteBulkMaxRows (the batched path), each
// also holding one row of the file already. Both must store the same rows,
// report the same bad rows and the same counts, keep the rows that were
// there, and leave every index as the migrations made it.
func TestSQLiteBulkLoad(t *testing.T) {
	const rows = 3000
	cats, prods := generated(t, rows, 7)
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
	// The file's first product again, moved to the second product's
	// category and repriced (an update); its third product again,
	// identical (unchanged); a bad row.
	moved := slices.Clone(recs[1])
	moved[6], moved[8] = "1234.5", recs[2][8]
	prods += line(moved) + line(recs[3]) + "B0BADBADBA,Bad,http://i,http://u,9.9,1,1,1," + moved[8] + ",False,0\n"
	want := expectedProducts(t, prods)
	delete(want, "B0BADBADBA")

	opts := Options{BatchSize: 700}
	var fresh []string
	sums := map[string]Summary{}
	dbs := map[string]testDB{}
	for name, fillers := range map[string]int{"bulk": 5, "batched": sqliteBulkMaxRows + 1} {
		db := newSQLite(t)
		fresh = db.indexDefs(t)
		db.importCategories(t, cats, opts)
		db.seedFillers(t, fillers)
		db.importProducts(t, line(recs[0])+line(recs[4]), opts)
		before := db.products(t)
		s := db.importProducts(t, prods, opts)
		if got, want := counts4(s), [4]int64{rows - 1, 1, 2, 1}; got != want {
			t.Errorf("%s: summary %v, want %v (%v)", name, got, want, s.Errors)
		}
		after := db.products(t)
		if len(after) != len(want)+fillers {
			t.Errorf("%s: %d products stored, want %d", name, len(after), len(want)+fillers)
		}
		for asin, p := range before {
			if after[asin] != p {
				t.Errorf("%s: stored product %s became %+v", name, asin, after[asin])
			}
		}
		for asin, w := range want {
			if after[asin].product != w {
				t.Errorf("%s: product %s stored as %+v, want %+v", name, asin, after[asin].product, w)
			}
		}
		if defs := db.indexDefs(t); len(fresh) != 7 || !slices.Equal(defs, fresh) {
			t.Errorf("%s: indexes after the import %q, want the 7 of the migrations %q", name, defs, fresh)
		}
		var check string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("%s: integrity_check %q, %v", name, check, err)
		}
		sums[name], dbs[name] = s, db
	}
	bs, ps := sums["bulk"], sums["batched"]
	if !reflect.DeepEqual(bs.Errors, ps.Errors) || len(bs.Errors) != 1 || bs.Errors[0].Column != "stars" {
		t.Errorf("bad rows: bulk %v, batched %v", bs.Errors, ps.Errors)
	}
	if !slices.Equal(bs.TouchedCategories, ps.TouchedCategories) {
		t.Errorf("touched: bulk %v, batched %v", bs.TouchedCategories, ps.TouchedCategories)
	}
	bulk := dbs["bulk"]
	// Every category of a stored row, and the one the moved product left.
	wantCats := map[int64]struct{}{}
	for _, p := range want {
		wantCats[p.categoryID] = struct{}{}
	}
	left, err := strconv.ParseInt(recs[1][8], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	wantCats[left] = struct{}{}
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

	// A re-import changes nothing but the moved product, which changes
	// twice again, as the file says.
	if s := bulk.importProducts(t, prods, opts); counts4(s) != [4]int64{0, 2, rows, 1} {
		t.Errorf("re-import %v", counts4(s))
	}
}

// TestSQLiteBulkCancel: a cancelled bulk load commits nothing, invalidates
// nothing, and leaves the table and its indexes as they were.
func TestSQLiteBulkCancel(t *testing.T) {
	cats, prods := generated(t, 20000, 3)
	db := newSQLite(t)
	fresh := db.indexDefs(t)
	db.importCategories(t, cats, Options{})
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

// TestSQLiteBulkThreshold: the writer takes the bulk path on a table of at
// most sqliteBulkMaxRows rows only.
func TestSQLiteBulkThreshold(t *testing.T) {
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
	db.seedFillers(t, sqliteBulkMaxRows)
	if !begin() {
		t.Errorf("%d rows: begin did not take the bulk path", sqliteBulkMaxRows)
	}
	db.importProducts(t, prodHeader+"B000000001,One,http://i,http://u,4.5,10,9.99,0.0,1,False,0\n", Options{})
	if begin() {
		t.Errorf("%d rows: begin took the bulk path", sqliteBulkMaxRows+1)
	}
}
