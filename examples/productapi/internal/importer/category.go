package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var categoryHeader = []string{"id", "category_name"}

// category is one validated row of amazon_categories.csv.
type category struct {
	id   int64
	name string
}

var categoryFormat = &format[category]{
	header: categoryHeader,
	parse: func(rec []string, _ int, c *category, bad func(column, reason string)) bool {
		return parseCategory(rec, c, bad)
	},
	key: func(c *category) string { return strconv.FormatInt(c.id, 10) },
}

// parseCategory validates the two fields of rec into c.
func parseCategory(rec []string, c *category, bad func(column, reason string)) bool {
	ok := true
	var reason string
	if c.id, reason = parseCount(rec[0]); reason != "" {
		ok = false
		bad("id", reason)
	} else if c.id == 0 {
		// The API takes category ids from 1 (catalog.ParseFilter and
		// catalog.Product.Check): a category 0 could never be used.
		ok = false
		bad("id", "must be a positive integer")
	}
	c.name = rec[1]
	if reason := checkText(c.name); reason != "" {
		ok = false
		bad("category_name", reason)
	} else if strings.TrimSpace(c.name) == "" {
		ok = false
		bad("category_name", "must not be empty")
	}
	return ok
}

// categoryWriter upserts categories row by row on either dialect: the file
// has a few hundred rows, so a bulk path would buy nothing.
type categoryWriter struct {
	dialect string
	now     any
	lookup  *sql.Stmt
	upsert  *sql.Stmt
}

func (w *categoryWriter) open(ctx context.Context, conn *sql.Conn) error {
	w.now = timeArg(w.dialect, time.Now())
	var err error
	w.lookup, err = conn.PrepareContext(ctx, rebind(w.dialect, `SELECT name FROM categories WHERE id = ?`))
	if err != nil {
		return fmt.Errorf("importer: preparing category lookup: %w", err)
	}
	w.upsert, err = conn.PrepareContext(ctx, rebind(w.dialect,
		`INSERT INTO categories (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)
		 ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at`))
	if err != nil {
		return fmt.Errorf("importer: preparing category upsert: %w", err)
	}
	return nil
}

func (w *categoryWriter) begin(context.Context) (bool, error) { return false, nil }

func (w *categoryWriter) write(ctx context.Context, rows []category, tx *txState) error {
	for i := range rows {
		r := &rows[i]
		var name string
		switch err := w.lookup.QueryRowContext(ctx, r.id).Scan(&name); {
		case errors.Is(err, sql.ErrNoRows):
			tx.inserted++
		case err != nil:
			return fmt.Errorf("importer: looking up category %d: %w", r.id, err)
		case name == r.name:
			tx.unchanged++
			continue
		default:
			tx.updated++
		}
		if _, err := w.upsert.ExecContext(ctx, r.id, r.name, w.now, w.now); err != nil {
			return fmt.Errorf("importer: writing category %d: %w", r.id, err)
		}
		tx.touched[r.id] = struct{}{}
	}
	return nil
}

func (w *categoryWriter) finish(context.Context, *txState) error { return nil }

// dedupe: rows are looked up and written one at a time.
func (w *categoryWriter) dedupe() dedupeScope { return dedupeNone }

func (w *categoryWriter) close(context.Context) error {
	for _, s := range []*sql.Stmt{w.lookup, w.upsert} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}

// sqliteTimeFormat is how the SQLite schema stores timestamps: RFC 3339 UTC
// with nanoseconds, fixed width so that text order is time order.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// timeArg is t as the dialect stores timestamps.
func timeArg(dialect string, t time.Time) any {
	if dialect == "postgres" {
		return t.UTC()
	}
	return t.UTC().Format(sqliteTimeFormat)
}

// rebind rewrites '?' placeholders to $n for PostgreSQL.
func rebind(dialect, q string) string {
	if dialect != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// loadKnown fills known with the ids of the categories table.
func loadKnown(ctx context.Context, conn *sql.Conn, known knownSet) error {
	return eachValue(ctx, conn, `SELECT id FROM categories`, "loading categories", func(id int64) { known[id] = struct{}{} })
}
