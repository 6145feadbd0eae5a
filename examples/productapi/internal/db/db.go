// Package db opens the product API's database, SQLite (modernc.org/sqlite,
// no cgo) or PostgreSQL (pgx through database/sql), and migrates its schema.
//
// Both dialects are reached through *sql.DB. Queries are written once with
// '?' placeholders and rewritten for PostgreSQL by [Dialect.Rebind]; values
// always travel as parameters, never inside the SQL text.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"               // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL dialect of a database: "sqlite" or "postgres".
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database and its dialect. It is safe for concurrent use.
type DB struct {
	*sql.DB
	Dialect Dialect

	// writes is the write gate of a SQLite database (nil on PostgreSQL):
	// its one slot is held by the process's writer of the moment. A
	// buffered channel hands the slot to the writer that has waited
	// longest, so writers take turns in arrival order.
	writes chan struct{}
}

// BusyTimeout is how long a SQLite write waits for the database's write
// lock, held by another writer, before it fails with SQLITE_BUSY; LockWrites
// waits as long for the writers of this process.
const BusyTimeout = 5 * time.Second

// ErrBusy reports a write that could not start because other writes held
// the database for longer than BusyTimeout: SQLite's write lock, or the
// process's write gate (see LockWrites). Match it with IsBusy, which also
// recognises SQLite's own busy errors. Retrying later succeeds.
var ErrBusy = errors.New("db: the database is busy with other writes")

// LockWrites waits for this process's turn to write, in arrival order, and
// returns the function that ends it. On SQLite, where one writer at a time
// holds the database, every writer of the process takes it around its write
// transaction: writers then queue here, each served in turn, instead of
// polling SQLite's lock under the busy timeout, which a writer that commits
// and begins again at once (an import, transaction after transaction) would
// win every time. It fails with ErrBusy after BusyTimeout, and with ctx's
// error if ctx ends first. On PostgreSQL it returns at once.
func (d *DB) LockWrites(ctx context.Context) (unlock func(), err error) {
	if d.writes == nil {
		return func() {}, nil
	}
	t := time.NewTimer(BusyTimeout)
	defer t.Stop()
	select {
	case d.writes <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-d.writes }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, fmt.Errorf("%w: waited %v for this process's other writers", ErrBusy, BusyTimeout)
	}
}

// IsBusy reports whether err is ErrBusy or SQLite's SQLITE_BUSY or
// SQLITE_LOCKED (a write that waited for the lock longer than the busy
// timeout): the database is held by other writes, and a retry may succeed.
func IsBusy(err error) bool {
	if errors.Is(err, ErrBusy) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// ErrUnsupportedURL reports a DATABASE_URL whose scheme is neither sqlite nor
// postgres.
var ErrUnsupportedURL = errors.New("db: unsupported database URL")

// Open opens the database named by rawURL: "sqlite:PATH" (or
// "sqlite://PATH") for a SQLite file, "postgres://…" or "postgresql://…" for
// PostgreSQL. It checks that the database answers within ctx.
//
// SQLite runs in WAL mode with foreign keys on, a 5 s busy timeout
// (BusyTimeout) and immediate write transactions, so that concurrent writers
// queue instead of failing; within the process they queue on LockWrites.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	dialect, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	driver := "pgx"
	if dialect == SQLite {
		driver = "sqlite"
	}
	sqlDB, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("db: opening %s: %w", dialect, err)
	}
	if dialect == SQLite {
		// One writer at a time is SQLite's model; a small pool keeps readers
		// concurrent without piling up writers on the busy timeout.
		sqlDB.SetMaxOpenConns(8)
	} else {
		sqlDB.SetMaxOpenConns(25)
		sqlDB.SetMaxIdleConns(25)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("db: connecting to %s: %w", dialect, err)
	}
	d := &DB{DB: sqlDB, Dialect: dialect}
	if dialect == SQLite {
		d.writes = make(chan struct{}, 1)
	}
	return d, nil
}

// parseURL returns the dialect and driver DSN of a DATABASE_URL.
func parseURL(raw string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
		}
		return Postgres, raw, nil
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//")
		if path == "" {
			return "", "", fmt.Errorf("%w: sqlite URL without a path", ErrUnsupportedURL)
		}
		if strings.ContainsAny(path, "?#") {
			return "", "", fmt.Errorf("%w: sqlite path %q may not contain '?' or '#'", ErrUnsupportedURL, path)
		}
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
		return SQLite, "file:" + path + "?" + q.Encode(), nil
	default:
		return "", "", fmt.Errorf("%w: %q (want sqlite:PATH or postgres://…)", ErrUnsupportedURL, redact(raw))
	}
}

// redact hides a URL's password for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			return "…" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

// Rebind rewrites the '?' placeholders of query for the dialect: $1, $2, …
// on PostgreSQL, unchanged on SQLite. Queries must not contain a literal '?'.
func (d Dialect) Rebind(query string) string {
	if d != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// TimeArg converts t to the value the dialect stores timestamps as:
// time.Time for PostgreSQL, RFC 3339 UTC text for SQLite.
func (d Dialect) TimeArg(t time.Time) any {
	if d == Postgres {
		return t.UTC()
	}
	return t.UTC().Format(TimeFormat)
}

// TimeFormat is how SQLite columns hold timestamps: RFC 3339 in UTC with
// nanoseconds, fixed width so that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Time scans a timestamp column of either dialect.
type Time struct{ time.Time }

// Scan implements sql.Scanner for time.Time, RFC 3339 text and unix seconds.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case int64:
		t.Time = time.Unix(v, 0).UTC()
	case nil:
		t.Time = time.Time{}
	default:
		return fmt.Errorf("db: cannot scan %T into a timestamp", src)
	}
	return nil
}

func (t *Time) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("db: bad timestamp %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// Bool scans a boolean column of either dialect (BOOLEAN, or INTEGER 0/1).
type Bool bool

// Scan implements sql.Scanner.
func (b *Bool) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*b = Bool(v)
	case int64:
		*b = v != 0
	case nil:
		*b = false
	default:
		return fmt.Errorf("db: cannot scan %T into a boolean", src)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation in
// either dialect.
func IsUniqueViolation(err error) bool {
	return hasCode(err, pgUniqueViolation, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// IsForeignKeyViolation reports whether err is a foreign-key violation in
// either dialect.
func IsForeignKeyViolation(err error) bool {
	return hasCode(err, pgForeignKeyViolation, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// PostgreSQL SQLSTATE codes.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// hasCode reports whether err carries the PostgreSQL SQLSTATE pgCode or one
// of the SQLite extended result codes.
func hasCode(err error, pgCode string, sqliteCodes ...int) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgCode
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		for _, c := range sqliteCodes {
			if se.Code() == c {
				return true
			}
		}
	}
	return false
}
