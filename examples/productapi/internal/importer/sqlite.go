package importer

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// sqliteChunk is the number of rows per multi-row statement: large enough
// to amortise the per-statement cost of database/sql, small enough to stay
// far below SQLite's limit of 32766 bound parameters (11 per row).
const sqliteChunk = 250

// sqliteCacheKiB is the page cache the import connection uses while it
// writes (the default is 2 MiB): products has eight indexes that take
// inserts in random order, and every page that falls out of the cache is
// read and written again. In a bulk load only the primary key's index
// does; rows still went in no slower with this cache than with 2 or 8 MiB,
// and mostly faster.
// The connection's own value is restored after the import, and before a
// bulk load builds its indexes.
const sqliteCacheKiB = 24 << 10

// sqliteBulkMaxRows is the most products a table may hold for an import
// into it to be a bulk load (see sqliteProducts.begin): an empty table, or
// one with the bundled sample catalogue. A bulk load builds the indexes over
// the rows already there too, about 0.1 s for this many, which a small
// import into a large table could not win back.
const sqliteBulkMaxRows = 10000

const productColumns = `asin, title, img_url, product_url, stars, reviews, price, list_price, category_id, is_best_seller, bought_in_last_month`

// sqliteProducts writes products to SQLite. Each chunk of rows is first
// looked up in one query to classify rows as new, changed or unchanged.
// New rows go in with multi-row INSERT statements, changed rows with one
// UPDATE each, unchanged rows not at all. An import that finds products
// empty, or nearly, is a bulk load (see begin): the same statements, in one
// transaction, without the secondary indexes until the end, and lookups
// only for the ASINs a filter of those in the table may hold.
//
// Foreign keys are switched off on the import connection, and the writer
// enforces them itself: every row's category is checked against the known
// ids as it is parsed, and before each COMMIT, under the write lock, that
// all the categories the transaction refers to still exist. With SQLite's
// own checks on, a multi-row statement that could abort half-way makes it
// keep a statement journal of every page the statement touches, which
// doubled the cost of a bulk load.
type sqliteProducts struct {
	known knownSet
	conn  *sql.Conn

	lookup    *sql.Stmt // sqliteChunk ASINs
	insertN   *sql.Stmt // sqliteChunk rows
	insertOne *sql.Stmt // one row
	update    *sql.Stmt // one row

	cacheSize    int64 // the connection's cache_size before the import
	restoreCache bool
	foreignKeys  int64 // the connection's foreign_keys before the import
	restoreFK    bool

	refs map[int64]struct{} // categories referred to by this transaction

	noBulk  bool     // never a bulk load (Options.MaxTxDuration is set)
	begun   bool     // the first transaction has begun
	bulk    bool     // the import is a bulk load, in one transaction
	indexes []string // CREATE INDEX statements of the indexes dropped for it
	// seen holds, in a bulk load, every ASIN in the table: the rows
	// stored before and those the load inserted. Rows it has not seen
	// are new without a lookup.
	seen *asinFilter

	// Reused between chunks.
	args     []any
	existing map[string]product
	fresh    []*product
}

func (w *sqliteProducts) open(ctx context.Context, conn *sql.Conn) error {
	w.conn = conn
	if err := loadKnown(ctx, conn, w.known); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&w.cacheSize); err != nil {
		return fmt.Errorf("importer: reading cache_size: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = -%d`, sqliteCacheKiB)); err != nil {
		return fmt.Errorf("importer: setting cache_size: %w", err)
	}
	w.restoreCache = true

	// Statements are compiled with the connection's foreign_keys setting,
	// so switch it off before preparing them.
	if err := conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&w.foreignKeys); err != nil {
		return fmt.Errorf("importer: reading foreign_keys: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("importer: setting foreign_keys: %w", err)
	}
	w.restoreFK = true
	w.refs = make(map[int64]struct{})
	now := time.Now().UTC().Format(sqliteTimeFormat)
	var err error
	w.lookup, err = conn.PrepareContext(ctx, `SELECT `+productColumns+` FROM products WHERE asin IN (`+
		strings.TrimSuffix(strings.Repeat("?,", sqliteChunk), ",")+`)`)
	if err != nil {
		return fmt.Errorf("importer: preparing product lookup: %w", err)
	}
	if w.insertN, err = conn.PrepareContext(ctx, sqliteInsert(sqliteChunk, now)); err != nil {
		return fmt.Errorf("importer: preparing product insert: %w", err)
	}
	if w.insertOne, err = conn.PrepareContext(ctx, sqliteInsert(1, now)); err != nil {
		return fmt.Errorf("importer: preparing product insert: %w", err)
	}
	// now is a timestamp formatted here, safe to inline.
	if w.update, err = conn.PrepareContext(ctx, `UPDATE products SET title = ?2, img_url = ?3,
		product_url = ?4, stars = ?5, reviews = ?6, price = ?7, list_price = ?8, category_id = ?9,
		is_best_seller = ?10, bought_in_last_month = ?11, updated_at = '`+now+`' WHERE asin = ?1`); err != nil {
		return fmt.Errorf("importer: preparing product update: %w", err)
	}
	w.args = make([]any, 0, sqliteChunk*11)
	w.existing = make(map[string]product, sqliteChunk)
	return nil
}

// sqliteInsert builds an insert of n rows. now is a timestamp formatted
// here, so it is safe to inline.
func sqliteInsert(n int, now string) string {
	var b strings.Builder
	b.WriteString(`INSERT OR FAIL INTO products (` + productColumns + `, created_at, updated_at) VALUES `)
	row := `(?,?,?,?,?,?,?,?,?,?,?,'` + now + `','` + now + `')`
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// begin starts a transaction. The first one, if products holds at most
// sqliteBulkMaxRows rows, becomes a bulk load: the whole import runs in
// it, with the secondary indexes dropped and built again at the end, which
// sorts each index once instead of inserting every row into seven B-trees
// in random order. Other connections keep seeing the table as it was, with
// its indexes, until COMMIT; a failed import rolls back to it.
func (w *sqliteProducts) begin(ctx context.Context) (bool, error) {
	clear(w.refs)
	if w.begun || w.noBulk {
		return false, nil
	}
	w.begun = true
	var n int64
	err := w.conn.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM products LIMIT ?)`,
		sqliteBulkMaxRows+1).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("importer: counting products: %w", err)
	}
	if n > sqliteBulkMaxRows {
		return false, nil
	}
	if err := w.fillSeen(ctx); err != nil {
		return false, err
	}
	if err := w.dropIndexes(ctx); err != nil {
		return false, err
	}
	w.bulk = true
	return true, nil
}

// fillSeen makes w.seen a filter of the ASINs in the table.
func (w *sqliteProducts) fillSeen(ctx context.Context) error {
	w.seen = newASINFilter()
	return eachValue(ctx, w.conn, `SELECT asin FROM products`, "reading products", w.seen.add)
}

// dropIndexes drops the secondary indexes of products and keeps their
// definitions in w.indexes.
func (w *sqliteProducts) dropIndexes(ctx context.Context) error {
	rows, err := w.conn.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'index' AND tbl_name = 'products' AND sql IS NOT NULL ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("importer: listing indexes: %w", err)
	}
	var names []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return fmt.Errorf("importer: listing indexes: %w", err)
		}
		names = append(names, name)
		w.indexes = append(w.indexes, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("importer: listing indexes: %w", err)
	}
	for _, name := range names {
		if _, err := w.conn.ExecContext(ctx, `DROP INDEX `+quoteIdent(name)); err != nil {
			return fmt.Errorf("importer: dropping index %s: %w", name, err)
		}
	}
	return nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (w *sqliteProducts) write(ctx context.Context, rows []product, tx *txState) error {
	for len(rows) > 0 {
		n := min(len(rows), sqliteChunk)
		if err := w.writeChunk(ctx, rows[:n], tx); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (w *sqliteProducts) writeChunk(ctx context.Context, rows []product, tx *txState) error {
	// Classify against what is stored: look up every row, or, in a bulk
	// load, those whose ASIN the load's filter may have seen.
	w.args = w.args[:0]
	for i := range rows {
		if w.seen == nil || w.seen.mayContain(rows[i].asin) {
			w.args = append(w.args, rows[i].asin)
		}
	}
	clear(w.existing)
	if len(w.args) > 0 {
		if err := w.lookupExisting(ctx); err != nil {
			return err
		}
	}

	w.fresh = w.fresh[:0]
	for i := range rows {
		r := &rows[i]
		old, found := w.existing[r.asin]
		switch {
		case !found:
			tx.inserted++
			tx.addInserted(r.asin)
			w.fresh = append(w.fresh, r)
		case old == *r:
			tx.unchanged++
			continue
		default:
			tx.updated++
			tx.touched[old.categoryID] = struct{}{}
			if _, err := w.update.ExecContext(ctx, w.rowArgs(r)...); err != nil {
				return fmt.Errorf("importer: updating product %s: %w", r.asin, err)
			}
		}
		tx.touched[r.categoryID] = struct{}{}
		w.refs[r.categoryID] = struct{}{}
	}

	fresh := w.fresh
	if w.seen != nil {
		for _, r := range fresh {
			w.seen.add(r.asin)
		}
	}
	if len(fresh) == sqliteChunk {
		w.args = w.args[:0]
		for _, r := range fresh {
			w.args = append(w.args, w.rowArgs(r)...)
		}
		if _, err := w.insertN.ExecContext(ctx, w.args...); err != nil {
			return fmt.Errorf("importer: inserting products: %w", err)
		}
		return nil
	}
	for _, r := range fresh {
		if _, err := w.insertOne.ExecContext(ctx, w.rowArgs(r)...); err != nil {
			return fmt.Errorf("importer: inserting product %s: %w", r.asin, err)
		}
	}
	return nil
}

// lookupExisting fills w.existing with the stored rows of the ASINs in
// w.args, at most sqliteChunk of them; it repeats the first to fill the
// prepared statement's parameters.
func (w *sqliteProducts) lookupExisting(ctx context.Context) error {
	for len(w.args) < sqliteChunk {
		w.args = append(w.args, w.args[0])
	}
	rs, err := w.lookup.QueryContext(ctx, w.args...)
	if err != nil {
		return fmt.Errorf("importer: looking up products: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var p product
		var best int64
		if err := rs.Scan(&p.asin, &p.title, &p.imgURL, &p.productURL, &p.stars, &p.reviews,
			&p.price, &p.listPrice, &p.categoryID, &best, &p.bought); err != nil {
			return fmt.Errorf("importer: looking up products: %w", err)
		}
		p.bestSeller = best != 0
		w.existing[p.asin] = p
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("importer: looking up products: %w", err)
	}
	return nil
}

// rowArgs returns r's 11 column values in statement order.
func (w *sqliteProducts) rowArgs(r *product) []any {
	best := int64(0)
	if r.bestSeller {
		best = 1
	}
	return []any{r.asin, r.title, r.imgURL, r.productURL, r.stars, r.reviews,
		r.price, r.listPrice, r.categoryID, best, r.bought}
}

// finish checks, in place of SQLite's foreign keys, that every category
// the transaction's rows refer to exists.
func (w *sqliteProducts) finish(ctx context.Context, _ *txState) error {
	if w.bulk {
		// CREATE INDEX reads the table in order and writes each index
		// in order, so it gains nothing from the large cache; its sorter
		// would take as much memory again (it keeps up to cache_size
		// bytes of keys in memory before spilling them to a temporary
		// file). Building with the connection's own cache was as fast.
		if _, err := w.conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, w.cacheSize)); err != nil {
			return fmt.Errorf("importer: setting cache_size: %w", err)
		}
		for _, def := range w.indexes {
			if _, err := w.conn.ExecContext(ctx, def); err != nil {
				return fmt.Errorf("importer: building index: %w", err)
			}
		}
	}
	if len(w.refs) == 0 {
		return nil
	}
	var q strings.Builder
	args := make([]any, 0, len(w.refs))
	q.WriteString(`SELECT count(*) FROM categories WHERE id IN (`)
	for id := range w.refs {
		if len(args) > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('?')
		args = append(args, id)
	}
	q.WriteByte(')')
	var n int
	if err := w.conn.QueryRowContext(ctx, q.String(), args...).Scan(&n); err != nil {
		return fmt.Errorf("importer: checking categories: %w", err)
	}
	if n != len(w.refs) {
		return ErrCategoryGone
	}
	return nil
}

// dedupe: a chunk is looked up before any of its rows is written, and
// a later chunk sees the rows of an earlier one.
func (w *sqliteProducts) dedupe() dedupeScope { return dedupeChunk }

func (w *sqliteProducts) close(ctx context.Context) error {
	if w.restoreCache {
		w.conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, w.cacheSize))
	}
	if w.restoreFK {
		w.conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA foreign_keys = %d`, w.foreignKeys))
	}
	for _, s := range []*sql.Stmt{w.lookup, w.insertN, w.insertOne, w.update} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}
