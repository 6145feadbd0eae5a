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
const sqliteChunk = 500

const productColumns = `asin, title, img_url, product_url, stars, reviews, price, list_price, category_id, is_best_seller, bought_in_last_month`

// sqliteProducts writes product batches to SQLite. Each chunk of a batch is
// first looked up in one query so that rows can be classified as new,
// changed or unchanged; only new and changed rows are written, with
// multi-row INSERT … ON CONFLICT statements prepared once per import. The
// whole batch runs in one BEGIN IMMEDIATE transaction, so the lookup and the
// writes see the same state.
type sqliteProducts struct {
	known knownSet
	conn  *sql.Conn

	lookup    *sql.Stmt // sqliteChunk ASINs
	insertN   *sql.Stmt // sqliteChunk rows
	insertOne *sql.Stmt // one row

	// Reused between chunks.
	args     []any
	existing map[string]product
	pending  []*product
}

func (w *sqliteProducts) open(ctx context.Context, conn *sql.Conn, _ *format[product]) error {
	w.conn = conn
	if err := loadKnown(ctx, conn, w.known); err != nil {
		return err
	}
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
	w.args = make([]any, 0, sqliteChunk*11)
	w.existing = make(map[string]product, sqliteChunk)
	return nil
}

// sqliteInsert builds an upsert of n rows. now is a timestamp we formatted
// ourselves, so it is safe to inline.
func sqliteInsert(n int, now string) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO products (` + productColumns + `, created_at, updated_at) VALUES `)
	row := `(?,?,?,?,?,?,?,?,?,?,?,'` + now + `','` + now + `')`
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(` ON CONFLICT (asin) DO UPDATE SET title = excluded.title, img_url = excluded.img_url,
		product_url = excluded.product_url, stars = excluded.stars, reviews = excluded.reviews,
		price = excluded.price, list_price = excluded.list_price, category_id = excluded.category_id,
		is_best_seller = excluded.is_best_seller, bought_in_last_month = excluded.bought_in_last_month,
		updated_at = excluded.updated_at`)
	return b.String()
}

func (w *sqliteProducts) write(ctx context.Context, rows []product, touched map[int64]struct{}) (c counts, err error) {
	err = inTx(ctx, w.conn, "sqlite", func() error {
		for len(rows) > 0 {
			n := min(len(rows), sqliteChunk)
			if err := w.writeChunk(ctx, rows[:n], &c, touched); err != nil {
				return err
			}
			rows = rows[n:]
		}
		return nil
	})
	if err != nil {
		return counts{}, err
	}
	return c, nil
}

func (w *sqliteProducts) writeChunk(ctx context.Context, rows []product, c *counts, touched map[int64]struct{}) error {
	// Classify against what is stored. A short chunk repeats its first
	// ASIN to fill the prepared statement's parameters.
	w.args = w.args[:0]
	for i := range sqliteChunk {
		w.args = append(w.args, rows[min(i, len(rows)-1)].asin)
	}
	clear(w.existing)
	rs, err := w.lookup.QueryContext(ctx, w.args...)
	if err != nil {
		return fmt.Errorf("importer: looking up products: %w", err)
	}
	for rs.Next() {
		var p product
		var best int64
		if err := rs.Scan(&p.asin, &p.title, &p.imgURL, &p.productURL, &p.stars, &p.reviews,
			&p.price, &p.listPrice, &p.categoryID, &best, &p.bought); err != nil {
			rs.Close()
			return fmt.Errorf("importer: looking up products: %w", err)
		}
		p.bestSeller = best != 0
		w.existing[p.asin] = p
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("importer: looking up products: %w", err)
	}
	rs.Close()

	w.pending = w.pending[:0]
	for i := range rows {
		r := &rows[i]
		old, found := w.existing[r.asin]
		switch {
		case !found:
			c.inserted++
		case old == *r:
			c.unchanged++
			continue
		default:
			c.updated++
			touched[old.categoryID] = struct{}{}
		}
		touched[r.categoryID] = struct{}{}
		w.pending = append(w.pending, r)
	}

	pending := w.pending
	for len(pending) >= sqliteChunk {
		if err := w.exec(ctx, w.insertN, pending[:sqliteChunk]); err != nil {
			return err
		}
		pending = pending[sqliteChunk:]
	}
	for _, r := range pending {
		if err := w.exec(ctx, w.insertOne, []*product{r}); err != nil {
			return err
		}
	}
	return nil
}

func (w *sqliteProducts) exec(ctx context.Context, st *sql.Stmt, rows []*product) error {
	w.args = w.args[:0]
	for _, r := range rows {
		best := int64(0)
		if r.bestSeller {
			best = 1
		}
		w.args = append(w.args, r.asin, r.title, r.imgURL, r.productURL, r.stars, r.reviews,
			r.price, r.listPrice, r.categoryID, best, r.bought)
	}
	if _, err := st.ExecContext(ctx, w.args...); err != nil {
		return fmt.Errorf("importer: writing products: %w", err)
	}
	return nil
}

func (w *sqliteProducts) close(context.Context) error {
	for _, s := range []*sql.Stmt{w.lookup, w.insertN, w.insertOne} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}
