package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// postgresMigrationLock is the advisory lock key that serialises migrations
// when several instances start at once.
const postgresMigrationLock = 7_291_604_117

// Migrate applies, in name order, the embedded migrations of the database's
// dialect that are not yet recorded in schema_migrations, each in its own
// transaction. It is safe to run from several instances at once on
// PostgreSQL (an advisory lock, taken before anything else, schema_migrations
// included, is created, serialises them) and on SQLite (write transactions
// are immediate). It returns the names it applied.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	dir := path.Join("migrations", string(d.Dialect))
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("db: reading migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)

	if err := d.createMigrationsTable(ctx); err != nil {
		return nil, err
	}
	var applied []string
	for _, name := range names {
		done, err := d.applyMigration(ctx, dir, name)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, name)
		}
	}
	return applied, nil
}

// createMigrationsTable creates schema_migrations if it does not exist. On
// PostgreSQL it takes the migration lock first: two sessions running CREATE
// TABLE IF NOT EXISTS at once on an empty database can both find the table
// missing, and the second then fails on the unique index of pg_type instead
// of skipping the statement.
func (d *DB) createMigrationsTable(ctx context.Context) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: creating schema_migrations: %w", err)
	}
	defer tx.Rollback()
	if err := d.lockMigrations(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("db: creating schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: creating schema_migrations: %w", err)
	}
	return nil
}

// lockMigrations serialises migrators on PostgreSQL until tx ends; SQLite
// write transactions are immediate, which serialises them already.
func (d *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if d.Dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, postgresMigrationLock); err != nil {
		return fmt.Errorf("db: migration lock: %w", err)
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, dir, name string) (bool, error) {
	body, err := migrations.ReadFile(path.Join(dir, name))
	if err != nil {
		return false, err
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("db: migration %s: %w", name, err)
	}
	defer tx.Rollback()
	if err := d.lockMigrations(ctx, tx); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, d.Dialect.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), name).Scan(&n); err != nil {
		return false, fmt.Errorf("db: migration %s: %w", name, err)
	}
	if n > 0 {
		return false, nil
	}
	for _, stmt := range splitStatements(string(body)) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("db: migration %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.Dialect.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
		name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, fmt.Errorf("db: migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("db: migration %s: %w", name, err)
	}
	return true, nil
}

// splitStatements splits a migration on semicolons that end a line, after
// dropping "--" comment lines. Migrations keep to that shape.
func splitStatements(sqlText string) []string {
	var lines []string
	for _, l := range strings.Split(sqlText, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		lines = append(lines, l)
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";\n") {
		s = strings.TrimSuffix(strings.TrimSpace(s), ";")
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
