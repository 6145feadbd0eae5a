package importer

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgStaging is the session-local table that COPY fills with one
// transaction's rows.
var pgStaging = pgx.Identifier{"pg_temp", "productapi_import_products"}

var pgStagingColumns = []string{
	"asin", "title", "img_url", "product_url", "stars", "reviews", "price",
	"list_price", "category_id", "is_best_seller", "bought_in_last_month",
}

// pgMerge moves the staging table into products in one statement and reports
// how many rows were inserted and updated, which categories changed, and the
// ASINs of up to $1 inserted rows.
//
// Rows equal to the stored ones are left alone by the WHERE of DO UPDATE, so
// they appear in neither count. xmax = 0 tells a fresh insert from an update.
// Every sub-statement of a WITH sees the snapshot taken before the INSERT, so
// the subquery on products in RETURNING reads a changed row's old category;
// it runs for updated rows only, by primary key.
const pgMerge = `
WITH up AS (
	INSERT INTO products AS p (` + productColumns + `, created_at, updated_at)
	SELECT ` + productColumns + `, now(), now() FROM pg_temp.productapi_import_products
	ON CONFLICT (asin) DO UPDATE SET
		title = EXCLUDED.title, img_url = EXCLUDED.img_url, product_url = EXCLUDED.product_url,
		stars = EXCLUDED.stars, reviews = EXCLUDED.reviews, price = EXCLUDED.price,
		list_price = EXCLUDED.list_price, category_id = EXCLUDED.category_id,
		is_best_seller = EXCLUDED.is_best_seller, bought_in_last_month = EXCLUDED.bought_in_last_month,
		updated_at = EXCLUDED.updated_at
	WHERE (p.title, p.img_url, p.product_url, p.stars, p.reviews, p.price, p.list_price,
	       p.category_id, p.is_best_seller, p.bought_in_last_month)
	      IS DISTINCT FROM
	      (EXCLUDED.title, EXCLUDED.img_url, EXCLUDED.product_url, EXCLUDED.stars, EXCLUDED.reviews,
	       EXCLUDED.price, EXCLUDED.list_price, EXCLUDED.category_id, EXCLUDED.is_best_seller,
	       EXCLUDED.bought_in_last_month)
	RETURNING p.asin, p.category_id, p.xmax = 0 AS inserted,
		CASE WHEN p.xmax = 0 THEN NULL
		     ELSE (SELECT o.category_id FROM products o WHERE o.asin = p.asin) END AS old_category_id
)
SELECT
	count(*) FILTER (WHERE inserted),
	count(*) FILTER (WHERE NOT inserted),
	coalesce((SELECT array_agg(DISTINCT c) FROM (
		SELECT category_id FROM up
		UNION ALL
		SELECT old_category_id FROM up WHERE old_category_id IS NOT NULL) AS t(c)), '{}'),
	coalesce((SELECT array_agg(asin) FROM (
		SELECT asin FROM up WHERE inserted LIMIT $1) AS n), '{}')
FROM up`

// pgProducts writes products to PostgreSQL: each chunk is sent with COPY
// into a temporary staging table, and at the end of the transaction one
// merge statement moves the staging rows into products.
type pgProducts struct {
	known knownSet
	conn  *sql.Conn
	src   productSource
}

func (w *pgProducts) open(ctx context.Context, conn *sql.Conn) error {
	w.conn = conn
	if err := loadKnown(ctx, conn, w.known); err != nil {
		return err
	}
	// ON COMMIT DELETE ROWS empties the table after each transaction for
	// free.
	_, err := conn.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS productapi_import_products (
		asin text NOT NULL, title text NOT NULL, img_url text NOT NULL, product_url text NOT NULL,
		stars float8 NOT NULL, reviews int8 NOT NULL, price float8 NOT NULL, list_price float8 NOT NULL,
		category_id int8 NOT NULL, is_best_seller bool NOT NULL, bought_in_last_month int8 NOT NULL
	) ON COMMIT DELETE ROWS`)
	if err != nil {
		return fmt.Errorf("importer: creating the staging table: %w", err)
	}
	return nil
}

// withPgx runs fn on the pgx connection under w.conn.
func (w *pgProducts) withPgx(fn func(*pgx.Conn) error) error {
	return w.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("importer: dialect postgres needs the pgx driver, got %T", dc)
		}
		return fn(sc.Conn())
	})
}

func (w *pgProducts) begin(context.Context) (bool, error) { return false, nil }

func (w *pgProducts) write(ctx context.Context, rows []product, tx *txState) error {
	return w.withPgx(func(c *pgx.Conn) error {
		w.src = productSource{rows: rows, i: -1}
		if _, err := c.CopyFrom(ctx, pgStaging, pgStagingColumns, &w.src); err != nil {
			return fmt.Errorf("importer: copying products: %w", err)
		}
		tx.unchanged += int64(len(rows)) // corrected by finish
		return nil
	})
}

func (w *pgProducts) finish(ctx context.Context, tx *txState) error {
	return w.withPgx(func(c *pgx.Conn) error {
		var ins, upd int64
		var cats []int64
		var asins []string
		if err := c.QueryRow(ctx, pgMerge, maxInsertedTags+1).Scan(&ins, &upd, &cats, &asins); err != nil {
			return fmt.Errorf("importer: merging products: %w", err)
		}
		tx.inserted += ins
		tx.updated += upd
		tx.unchanged -= ins + upd
		for _, asin := range asins {
			tx.addInserted(asin)
		}
		for _, id := range cats {
			tx.touched[id] = struct{}{}
		}
		return nil
	})
}

// dedupe: the merge statement may not touch a row twice.
func (w *pgProducts) dedupe() dedupeScope { return dedupeTx }

func (w *pgProducts) close(ctx context.Context) error {
	// The connection goes back to the pool; leave no table behind on it.
	w.conn.ExecContext(ctx, `DROP TABLE IF EXISTS pg_temp.productapi_import_products`)
	return nil
}

// productSource feeds a chunk to CopyFrom, reusing one value slice.
type productSource struct {
	rows []product
	i    int
	vals [11]any
}

// Next implements pgx.CopyFromSource.
func (s *productSource) Next() bool {
	s.i++
	return s.i < len(s.rows)
}

// Values implements pgx.CopyFromSource.
func (s *productSource) Values() ([]any, error) {
	r := &s.rows[s.i]
	s.vals = [11]any{r.asin, r.title, r.imgURL, r.productURL, r.stars, r.reviews,
		r.price, r.listPrice, r.categoryID, r.bestSeller, r.bought}
	return s.vals[:], nil
}

// Err implements pgx.CopyFromSource: the rows are already in memory, so
// reading them cannot fail.
func (s *productSource) Err() error { return nil }
