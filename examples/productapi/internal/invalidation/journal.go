package invalidation

import (
	"context"
	"fmt"
	"time"

	"github.com/cachefront/cachefront"

	"github.com/cachefront/cachefront/examples/productapi/internal/db"
)

// Journal is the Store's cachefront.Journal in the service's database, in
// table cache_invalidations, shared by every instance: invalidations Redis
// did not take outlive the process that made them, and the next instance
// to start applies them before it serves from the cache.
type Journal struct {
	db *db.DB
}

// NewJournal returns the journal kept in d.
func NewJournal(d *db.DB) *Journal { return &Journal{db: d} }

var _ cachefront.Journal = (*Journal)(nil)

// Add records inv.
func (j *Journal) Add(ctx context.Context, inv cachefront.Invalidations) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return j.each(ctx, inv, `INSERT INTO cache_invalidations (kind, item, created_at) VALUES (?, ?, ?) ON CONFLICT (kind, item) DO NOTHING`, now)
}

// Remove forgets inv.
func (j *Journal) Remove(ctx context.Context, inv cachefront.Invalidations) error {
	return j.each(ctx, inv, `DELETE FROM cache_invalidations WHERE kind = ? AND item = ?`)
}

// List returns everything recorded.
func (j *Journal) List(ctx context.Context) (cachefront.Invalidations, error) {
	var inv cachefront.Invalidations
	rows, err := j.db.QueryContext(ctx, `SELECT kind, item FROM cache_invalidations`)
	if err != nil {
		return inv, fmt.Errorf("listing cache invalidations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, item string
		if err := rows.Scan(&kind, &item); err != nil {
			return inv, fmt.Errorf("listing cache invalidations: %w", err)
		}
		if kind == "tag" {
			inv.Tags = append(inv.Tags, item)
		} else {
			inv.Keys = append(inv.Keys, item)
		}
	}
	if err := rows.Err(); err != nil {
		return inv, fmt.Errorf("listing cache invalidations: %w", err)
	}
	return inv, nil
}

// each runs query once for every tag and key of inv, in one transaction,
// with the kind, the item and extra as arguments.
func (j *Journal) each(ctx context.Context, inv cachefront.Invalidations, query string, extra ...any) error {
	unlock, err := j.db.LockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cache invalidations: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, j.db.Dialect.Rebind(query))
	if err != nil {
		return fmt.Errorf("cache invalidations: %w", err)
	}
	defer stmt.Close()
	for _, group := range []struct {
		kind  string
		items []string
	}{{"tag", inv.Tags}, {"key", inv.Keys}} {
		for _, item := range group.items {
			if _, err := stmt.ExecContext(ctx, append([]any{group.kind, item}, extra...)...); err != nil {
				return fmt.Errorf("cache invalidations: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cache invalidations: %w", err)
	}
	return nil
}
