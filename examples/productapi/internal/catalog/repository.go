package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
)

// Repository reads and writes the catalogue tables. It is safe for
// concurrent use. Every value reaches SQL as a parameter. Writes take the
// database's write turn (db.DB.LockWrites) and fail with an error matching
// db.IsBusy when other writes held the database too long.
type Repository struct {
	db *db.DB
}

// NewRepository returns a Repository on d.
func NewRepository(d *db.DB) *Repository { return &Repository{db: d} }

func (r *Repository) q(query string) string { return r.db.Dialect.Rebind(query) }

const productColumns = `asin, title, img_url, product_url, stars, reviews, price, list_price,
	category_id, is_best_seller, bought_in_last_month, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanProduct(s rowScanner) (Product, error) {
	var p Product
	var best db.Bool
	var created, updated db.Time
	err := s.Scan(&p.ASIN, &p.Title, &p.ImgURL, &p.ProductURL, &p.Stars, &p.Reviews, &p.Price, &p.ListPrice,
		&p.CategoryID, &best, &p.BoughtInLastMonth, &created, &updated)
	p.IsBestSeller, p.CreatedAt, p.UpdatedAt = bool(best), created.Time, updated.Time
	return p, err
}

// Categories returns every category in id order.
func (r *Repository) Categories(ctx context.Context) ([]Category, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, name, created_at, updated_at FROM categories ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing categories: %w", err)
	}
	defer rows.Close()
	out := []Category{}
	for rows.Next() {
		var c Category
		var created, updated db.Time
		if err := rows.Scan(&c.ID, &c.Name, &created, &updated); err != nil {
			return nil, fmt.Errorf("listing categories: %w", err)
		}
		c.CreatedAt, c.UpdatedAt = created.Time, updated.Time
		out = append(out, c)
	}
	return out, rows.Err()
}

// Product returns the product asin, or ErrNotFound.
func (r *Repository) Product(ctx context.Context, asin string) (Product, error) {
	p, err := scanProduct(r.db.QueryRowContext(ctx, r.q(`SELECT `+productColumns+` FROM products WHERE asin = ?`), asin))
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, fmt.Errorf("product %s: %w", asin, ErrNotFound)
	}
	if err != nil {
		return Product{}, fmt.Errorf("reading product %s: %w", asin, err)
	}
	return p, nil
}

// where builds the WHERE clause and arguments of f.
func (r *Repository) where(f Filter) (string, []any) {
	var conds []string
	var args []any
	if f.CategoryID != nil {
		conds, args = append(conds, "category_id = ?"), append(args, *f.CategoryID)
	}
	if f.Query != "" {
		like := "LIKE" // case-insensitive for ASCII in SQLite
		if r.db.Dialect == db.Postgres {
			like = "ILIKE"
		}
		conds = append(conds, "title "+like+` ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(f.Query)+"%")
	}
	if f.MinPrice != nil {
		conds, args = append(conds, "price >= ?"), append(args, *f.MinPrice)
	}
	if f.MaxPrice != nil {
		conds, args = append(conds, "price <= ?"), append(args, *f.MaxPrice)
	}
	if f.BestSeller != nil {
		if r.db.Dialect == db.Postgres {
			conds, args = append(conds, "is_best_seller = ?"), append(args, *f.BestSeller)
		} else {
			b := 0
			if *f.BestSeller {
				b = 1
			}
			conds, args = append(conds, "is_best_seller = ?"), append(args, b)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListProducts returns the page of products f selects and the total number
// of products matching f.
func (r *Repository) ListProducts(ctx context.Context, f Filter) (Page, error) {
	if f.Page < 1 {
		f.Page = 1
	}
	if f.Limit < 1 || f.Limit > MaxLimit {
		f.Limit = DefaultLimit
	}
	order, ok := sorts[f.Sort]
	if !ok {
		return Page{}, &FieldError{"sort", "unknown sort order"}
	}
	where, args := r.where(f)
	page := Page{Products: []Product{}, Page: f.Page, Limit: f.Limit}
	if err := r.db.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM products`+where), args...).Scan(&page.Total); err != nil {
		return Page{}, fmt.Errorf("counting products: %w", err)
	}
	offset := int64(f.Page-1) * int64(f.Limit)
	if offset >= page.Total {
		return page, nil
	}
	rows, err := r.db.QueryContext(ctx,
		r.q(`SELECT `+productColumns+` FROM products`+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`),
		append(args, f.Limit, offset)...)
	if err != nil {
		return Page{}, fmt.Errorf("listing products: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return Page{}, fmt.Errorf("listing products: %w", err)
		}
		page.Products = append(page.Products, p)
	}
	return page, rows.Err()
}

func (r *Repository) productArgs(p *Product) []any {
	var best any = p.IsBestSeller
	if r.db.Dialect == db.SQLite {
		best = 0
		if p.IsBestSeller {
			best = 1
		}
	}
	return []any{p.Title, p.ImgURL, p.ProductURL, p.Stars, p.Reviews, p.Price, p.ListPrice, p.CategoryID, best, p.BoughtInLastMonth}
}

// CreateProduct inserts p, setting its timestamps. It returns ErrExists for
// a taken ASIN and ErrUnknownCategory for a missing category.
func (r *Repository) CreateProduct(ctx context.Context, p Product) (Product, error) {
	now := time.Now().UTC()
	p.CreatedAt, p.UpdatedAt = now, now
	args := append([]any{p.ASIN}, r.productArgs(&p)...)
	args = append(args, r.db.Dialect.TimeArg(now), r.db.Dialect.TimeArg(now))
	unlock, err := r.db.LockWrites(ctx)
	if err != nil {
		return Product{}, fmt.Errorf("creating product %s: %w", p.ASIN, err)
	}
	_, err = r.db.ExecContext(ctx, r.q(`INSERT INTO products (`+productColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	unlock()
	switch {
	case db.IsUniqueViolation(err):
		return Product{}, fmt.Errorf("product %s: %w", p.ASIN, ErrExists)
	case db.IsForeignKeyViolation(err):
		return Product{}, fmt.Errorf("category %d: %w", p.CategoryID, ErrUnknownCategory)
	case err != nil:
		return Product{}, fmt.Errorf("creating product %s: %w", p.ASIN, err)
	}
	return r.Product(ctx, p.ASIN)
}

// UpdateProduct replaces the fields of product p.ASIN with p's and returns
// the product as stored and the category it was in before.
func (r *Repository) UpdateProduct(ctx context.Context, p Product) (updated Product, oldCategory int64, err error) {
	unlock, err := r.db.LockWrites(ctx)
	if err != nil {
		return Product{}, 0, fmt.Errorf("updating product %s: %w", p.ASIN, err)
	}
	defer unlock()
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return Product{}, 0, err
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, r.q(`SELECT category_id FROM products WHERE asin = ?`), p.ASIN).Scan(&oldCategory)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, 0, fmt.Errorf("product %s: %w", p.ASIN, ErrNotFound)
	}
	if err != nil {
		return Product{}, 0, fmt.Errorf("updating product %s: %w", p.ASIN, err)
	}
	args := append(r.productArgs(&p), r.db.Dialect.TimeArg(time.Now()), p.ASIN)
	_, err = tx.ExecContext(ctx, r.q(`UPDATE products SET title = ?, img_url = ?, product_url = ?, stars = ?, reviews = ?,
		price = ?, list_price = ?, category_id = ?, is_best_seller = ?, bought_in_last_month = ?, updated_at = ?
		WHERE asin = ?`), args...)
	if db.IsForeignKeyViolation(err) {
		return Product{}, 0, fmt.Errorf("category %d: %w", p.CategoryID, ErrUnknownCategory)
	}
	if err != nil {
		return Product{}, 0, fmt.Errorf("updating product %s: %w", p.ASIN, err)
	}
	updated, err = scanProduct(tx.QueryRowContext(ctx, r.q(`SELECT `+productColumns+` FROM products WHERE asin = ?`), p.ASIN))
	if err != nil {
		return Product{}, 0, fmt.Errorf("updating product %s: %w", p.ASIN, err)
	}
	if err := tx.Commit(); err != nil {
		return Product{}, 0, fmt.Errorf("updating product %s: %w", p.ASIN, err)
	}
	return updated, oldCategory, nil
}

// DeleteProduct deletes product asin and returns the category it was in.
func (r *Repository) DeleteProduct(ctx context.Context, asin string) (category int64, err error) {
	unlock, err := r.db.LockWrites(ctx)
	if err != nil {
		return 0, fmt.Errorf("deleting product %s: %w", asin, err)
	}
	defer unlock()
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, r.q(`SELECT category_id FROM products WHERE asin = ?`), asin).Scan(&category)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("product %s: %w", asin, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("deleting product %s: %w", asin, err)
	}
	if _, err := tx.ExecContext(ctx, r.q(`DELETE FROM products WHERE asin = ?`), asin); err != nil {
		return 0, fmt.Errorf("deleting product %s: %w", asin, err)
	}
	return category, tx.Commit()
}

// Empty reports whether the catalogue has no category and no product.
func (r *Repository) Empty(ctx context.Context) (bool, error) {
	var n int64
	err := r.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM categories) + (SELECT COUNT(*) FROM products)`).Scan(&n)
	return n == 0, err
}
