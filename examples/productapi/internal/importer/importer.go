package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
)

// Defaults applied to zero [Options] fields.
const (
	// DefaultBatchSize is the rows per transaction on PostgreSQL.
	DefaultBatchSize = 10000
	// DefaultSQLiteBatchSize is the rows per transaction on SQLite. Large
	// transactions make a bulk load several times cheaper there: products
	// has eight indexes that take rows in random order, so a transaction
	// dirties index pages all over the file, and each commit writes every
	// page it dirtied to the WAL and back to the database. The cost is that
	// other writers wait on the write lock for the length of a
	// transaction.
	//
	// A product import that finds the table empty, or nearly, does not
	// use it: it runs in one transaction and builds the secondary indexes
	// at the end (see the package documentation).
	DefaultSQLiteBatchSize   = 100000
	DefaultMaxReportedErrors = 100
	// progressInterval is how often Options.Progress is called at most.
	progressInterval = 250 * time.Millisecond
)

// Sentinel errors. Errors returned by the importer wrap them; match with
// errors.Is.
var (
	// ErrHeader reports a missing or unexpected header line: the file is not
	// in the expected format and nothing was imported.
	ErrHeader = errors.New("importer: unexpected CSV header")
	// ErrCategoryGone reports that a category was deleted while products
	// referring to it were being imported; the transaction was rolled back.
	ErrCategoryGone = errors.New("importer: a category of the imported rows was deleted during the import")
	// ErrDialect reports a dialect other than "sqlite" or "postgres".
	ErrDialect = errors.New("importer: unsupported dialect")
)

// Importer writes CSV files into a database. It holds no state between
// imports and is safe for concurrent use, although two concurrent imports
// into one SQLite database queue on its write lock.
type Importer struct {
	db      *sql.DB
	dialect string
}

// New returns an Importer writing through db, whose dialect is "sqlite"
// (modernc.org/sqlite) or "postgres" (github.com/jackc/pgx/v5/stdlib). An
// unknown dialect makes every import fail with [ErrDialect].
func New(db *sql.DB, dialect string) *Importer {
	return &Importer{db: db, dialect: dialect}
}

// Options tune one import. The zero value is ready to use.
type Options struct {
	// BatchSize is the number of rows written per transaction. Default
	// DefaultBatchSize (10000) on PostgreSQL, DefaultSQLiteBatchSize
	// (100000) on SQLite. Memory use does not depend on it: rows travel
	// from the parser to the database in chunks of at most 1000. A
	// product import into an empty SQLite table (at most 10 000 rows)
	// ignores it and runs in one transaction.
	BatchSize int
	// MaxReportedErrors caps Summary.Errors; Summary.Failed still counts
	// every bad row. Default DefaultMaxReportedErrors (100); negative means
	// none reported.
	MaxReportedErrors int
	// Progress, if set, is called about every 250 ms while the file is
	// read, and once more at the end with Done set. Calls never overlap.
	Progress func(Progress)
	// Invalidate, if set, is called once after the import with the cache
	// tags to invalidate (see the package documentation). Its error is
	// returned by the import, wrapped, together with the Summary.
	Invalidate func(ctx context.Context, tags ...string) error
	// Lock, if set, is called before each transaction begins, and the
	// function it returns once the transaction has ended: the
	// application's other writers, taking the same lock, then get their
	// turn between the import's transactions (on SQLite, where a write
	// otherwise polls the write lock under its busy timeout, and loses it
	// to an import that begins again as soon as it commits). An error from
	// Lock stops the import like a failed transaction.
	Lock func(ctx context.Context) (unlock func(), err error)
	// MaxTxDuration, if positive, commits a transaction once it has been
	// open this long (checked after each chunk of at most 1000 rows),
	// whatever BatchSize says, so that other writers of a SQLite database
	// wait about that long at most for their turn. It also keeps a product
	// import into an empty SQLite table off the bulk path, whose single
	// transaction cannot be cut short. Default 0: no limit.
	MaxTxDuration time.Duration
}

func (o Options) withDefaults(dialect string) Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
		if dialect == "sqlite" {
			o.BatchSize = DefaultSQLiteBatchSize
		}
	}
	if o.MaxReportedErrors == 0 {
		o.MaxReportedErrors = DefaultMaxReportedErrors
	}
	if o.MaxReportedErrors < 0 {
		o.MaxReportedErrors = 0
	}
	return o
}

// Progress is a snapshot of a running import.
type Progress struct {
	// Rows is the number of data rows read so far, good or bad.
	Rows int64
	// Bytes is the number of bytes of input read so far.
	Bytes int64
	// Elapsed is the time since the import started.
	Elapsed time.Duration
	// RowsPerSecond is Rows / Elapsed.
	RowsPerSecond float64
	// Done is set on the last call, once the whole input has been read and
	// written (or the import failed).
	Done bool
}

// ImportCategories reads amazon_categories.csv (id,category_name) from r and
// upserts every valid row into categories. The returned Summary is valid
// even when err is not nil: it counts what was committed before the error.
func (im *Importer) ImportCategories(ctx context.Context, r io.Reader, opts Options) (Summary, error) {
	var w writer[category]
	switch im.dialect {
	case "sqlite", "postgres":
		w = &categoryWriter{dialect: im.dialect}
	default:
		return Summary{}, fmt.Errorf("%w: %q", ErrDialect, im.dialect)
	}
	return run(ctx, im.db, im.dialect, r, opts, categoryFormat, w, "categories")
}

// ImportProducts reads amazon_products.csv from r and upserts every valid
// row into products. Rows whose category id is not in the categories table
// are rejected, so import the categories first. The returned Summary is valid
// even when err is not nil: it counts what was committed before the error.
func (im *Importer) ImportProducts(ctx context.Context, r io.Reader, opts Options) (Summary, error) {
	known := make(knownSet)
	var w writer[product]
	switch im.dialect {
	case "sqlite":
		w = &sqliteProducts{known: known, noBulk: opts.MaxTxDuration > 0}
	case "postgres":
		w = &pgProducts{known: known}
	default:
		return Summary{}, fmt.Errorf("%w: %q", ErrDialect, im.dialect)
	}
	return run(ctx, im.db, im.dialect, r, opts, productFormat(known), w, "products")
}

// counts is what one transaction did.
type counts struct {
	inserted, updated, unchanged int64
}

// txState is what the current transaction did so far; it is added to the
// Summary once the transaction has committed.
type txState struct {
	counts
	touched map[int64]struct{}
	// newASINs holds the ASINs of the rows inserted, up to
	// maxInsertedTags+1 of them: the product tags to invalidate (see
	// insertedTags).
	newASINs []string
}

// addInserted records the ASIN of an inserted row.
func (tx *txState) addInserted(asin string) {
	if len(tx.newASINs) <= maxInsertedTags {
		tx.newASINs = append(tx.newASINs, strings.Clone(asin))
	}
}

// maxInsertedTags is the most product tags an import invalidates, one per
// inserted ASIN; an import that inserts more invalidates the one tag of
// every cached "not found" answer instead (see insertedTags).
const maxInsertedTags = 1000

// insertedTags returns the tags that invalidate what the cache may hold
// about products the import inserted: a "not found" answer for their ASIN,
// cached with the tag product:<asin> (updated products are reached through
// the tags of their categories). Up to maxInsertedTags ASINs, those tags,
// exactly; beyond, where a tag per product would leave that many tag
// versions in Redis for the tag TTL, the tag that every cached "not found"
// answer carries, which drops the others too (they live a few seconds).
func insertedTags(inserted []string) []string {
	if len(inserted) > maxInsertedTags {
		return []string{catalog.TagMissingProducts}
	}
	tags := make([]string, len(inserted))
	for i, asin := range inserted {
		tags[i] = catalog.TagProduct(asin)
	}
	return tags
}

// writer writes rows of one type on a connection held for the whole import.
// open runs first; then, for each transaction, run executes BEGIN, calls
// begin, write for each chunk, finish, and executes COMMIT; close runs last,
// also after an error. A begin that returns whole = true keeps the rest of
// the import in its transaction: run then ignores the batch boundaries and
// calls finish and COMMIT once, after the last row.
type writer[T any] interface {
	open(ctx context.Context, conn *sql.Conn) error
	begin(ctx context.Context) (whole bool, err error)
	write(ctx context.Context, rows []T, tx *txState) error
	dedupe() dedupeScope
	finish(ctx context.Context, tx *txState) error
	close(ctx context.Context) error
}

// run drives one import: a parsing goroutine feeds batches to the writer on
// the calling goroutine.
func run[T any](ctx context.Context, db *sql.DB, dialect string, r io.Reader, opts Options, f *format[T], w writer[T], tableTag string) (sum Summary, err error) {
	opts = opts.withDefaults(dialect)
	start := time.Now()
	touched := make(map[int64]struct{})
	var inserted []string // committed, as txState.newASINs

	defer func() {
		sum.Elapsed = time.Since(start)
		sum.TouchedCategories = sortedKeys(touched)
		if opts.Invalidate != nil && sum.Inserted+sum.Updated > 0 {
			tags := make([]string, 0, len(touched)+len(inserted)+1)
			for _, id := range sum.TouchedCategories {
				tags = append(tags, catalog.TagCategory(id))
			}
			tags = append(tags, insertedTags(inserted)...)
			tags = append(tags, tableTag)
			// The data is committed: invalidate even if ctx is done.
			ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			ierr := opts.Invalidate(ictx, tags...)
			cancel()
			if ierr != nil {
				err = errors.Join(err, fmt.Errorf("importer: invalidating cache tags: %w", ierr))
			}
		}
	}()

	conn, err := db.Conn(ctx)
	if err != nil {
		return sum, fmt.Errorf("importer: getting a connection: %w", err)
	}
	defer conn.Close()

	if err := w.open(ctx, conn); err != nil {
		// close puts back what open changed on the connection.
		w.close(context.WithoutCancel(ctx))
		return sum, err
	}
	begin := "BEGIN"
	if dialect == "sqlite" {
		// Take the write lock up front: the reads that classify rows and
		// the writes that follow must see the same database.
		begin = "BEGIN IMMEDIATE"
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newParser(r, f, opts, w.dedupe(), start)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(wctx)
	}()

	tx := txState{touched: make(map[int64]struct{})}
	inTx, whole := false, false
	var (
		txStart time.Time
		unlock  func() // ends the transaction's Options.Lock
	)
	release := func() {
		if unlock != nil {
			unlock()
			unlock = nil
		}
	}
	defer release()
	commit := func() error {
		if err := w.finish(wctx, &tx); err != nil {
			return err
		}
		// Not cancellable: the summary must know whether the
		// transaction landed.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
			return fmt.Errorf("importer: committing: %w", err)
		}
		inTx = false
		release()
		sum.Inserted += tx.inserted
		sum.Updated += tx.updated
		sum.Unchanged += tx.unchanged
		for id := range tx.touched {
			touched[id] = struct{}{}
		}
		for _, asin := range tx.newASINs {
			if len(inserted) > maxInsertedTags {
				break
			}
			inserted = append(inserted, asin)
		}
		tx.counts = counts{}
		clear(tx.touched)
		tx.newASINs = tx.newASINs[:0]
		return nil
	}
	loop := func() error {
		for b := range p.batches {
			if !inTx {
				if opts.Lock != nil {
					var err error
					if unlock, err = opts.Lock(wctx); err != nil {
						return fmt.Errorf("importer: waiting for the other writers: %w", err)
					}
				}
				if _, err := conn.ExecContext(wctx, begin); err != nil {
					return fmt.Errorf("importer: beginning a transaction: %w", err)
				}
				inTx, txStart = true, time.Now()
				var err error
				if whole, err = w.begin(wctx); err != nil {
					return err
				}
			}
			err := w.write(wctx, b.rows, &tx)
			endTx := b.endTx
			p.recycle(b)
			if err != nil {
				return err
			}
			long := opts.MaxTxDuration > 0 && time.Since(txStart) >= opts.MaxTxDuration
			if (endTx || long) && !whole {
				if err := commit(); err != nil {
					return err
				}
			}
		}
		// The parser closed batches: after the last row, or on an
		// error that must roll the open transaction back.
		if inTx && whole && p.err == nil && wctx.Err() == nil {
			return commit()
		}
		return nil
	}
	werr := loop()
	if inTx {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	}
	release()
	cerr := w.close(context.WithoutCancel(ctx))
	cancel()
	for range p.batches { // unblock the parser if the writer stopped early
	}
	<-done

	sum.Failed = p.failed
	sum.Errors = p.errs
	sum.ErrorsOmitted = p.omitted
	if werr == nil {
		werr = cerr
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(werr, cerr) {
		// Drivers may report a cancellation as a broken connection.
		if werr == nil {
			werr = cerr
		} else {
			werr = fmt.Errorf("%w (%v)", cerr, werr)
		}
	}
	if werr == nil && p.err != nil {
		werr = p.err
	}
	if opts.Progress != nil {
		opts.Progress(p.snapshot(true))
	}
	return sum, werr
}

func sortedKeys(m map[int64]struct{}) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
