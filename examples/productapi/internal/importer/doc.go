// Package importer loads the Kaggle "Amazon Products Dataset 2023" CSV files
// (amazon_categories.csv and amazon_products.csv) into the product API's
// database, SQLite or PostgreSQL.
//
// # Use
//
// A command-line import shows progress on the terminal and prints the
// summary:
//
//	f, _ := os.Open("amazon_products.csv")
//	st, _ := f.Stat()
//	sum, err := importer.New(db, "sqlite").ImportProducts(ctx, f, importer.Options{
//		Progress:   importer.TerminalProgress(os.Stderr, st.Size()),
//		Invalidate: store.InvalidateTags,
//	})
//	fmt.Println(sum) // 1400000 rows in 1m2s: 1400000 inserted, 0 updated, …
//
// An HTTP handler passes the request body and writes the [Summary] as JSON;
// it carries the first [Options.MaxReportedErrors] row errors, and
// [Summary.ErrorsOmitted] counts those left out.
//
// # Streaming
//
// [Importer.ImportProducts] and [Importer.ImportCategories] read their input
// once, as a stream: one goroutine parses and validates rows into chunks of
// at most 1000 rows while the calling goroutine writes the previous chunk,
// so memory is bounded by a few chunks whatever the size of the file. Every
// [Options.BatchSize] rows the writer commits a transaction; a transaction
// that fails rolls back whole and stops the import, and the ones before it
// stay committed.
//
// On PostgreSQL each chunk is sent with COPY (binary protocol) into a
// temporary staging table, and at the end of the transaction a single
// INSERT … ON CONFLICT statement merges it into products. On SQLite the
// chunk is written through prepared multi-row statements inside an
// IMMEDIATE transaction, with the page cache of the import's connection
// raised while it runs; see [DefaultSQLiteBatchSize] for why SQLite
// transactions are large.
//
// # First import into an empty SQLite table
//
// When [Importer.ImportProducts] finds at most 10 000 rows in the SQLite
// products table (an empty database, or one holding only the bundled
// sample catalogue), it loads the whole file in one transaction: it drops
// the table's secondary indexes, writes the rows as above (validation,
// counts and duplicate handling are the same; a row is looked up only if a
// Bloom filter of the ASINs in the table may hold its ASIN), and builds the
// indexes again before the single COMMIT. Building an index from a full
// table sorts it once, where inserting every row into seven B-trees in
// random key order rewrites pages all over the file; on 1.4 million rows
// the import takes about a fifth of the time it took in 100 000-row
// transactions. Other connections see the table as it was, with its
// indexes, until the COMMIT, and an import that fails or is cancelled rolls
// back to it, indexes included. The price is that the import holds
// SQLite's write lock from the first row to the last, so other writers
// wait (and give up after their busy timeout) for the whole import rather
// than for one transaction.
//
// # Validation
//
// Every data row is validated before it is written: the number of columns,
// an ASIN of 1 to 20 letters and digits (catalog.CheckASIN, the rule the
// API applies too), numbers where numbers belong, stars within
// 0–5, non-negative prices and counts (0 included: real exports write "0.0"
// for a missing list price or rating), True/False for isBestSeller, a
// category id that exists in the categories table (loaded once at the
// start), valid UTF-8 without NUL bytes in text; then the rules of an
// imported product (catalog.Product.CheckImported): those the API applies to
// a product it is sent — http or https URLs of at most 2048 bytes, or none;
// prices up to 1e9; a positive category id — except for the title, which is
// stored trimmed and may be empty, as in rows of real exports, and up to
// 64 KiB rather than the API's 2000 bytes, so that no real title is refused
// for its length. Category ids start at 1.
//
// A row that breaks a rule is skipped and reported as a [RowError] (its first line in the file,
// the column, the reason); the other rows are imported. The first line of the
// file must be the expected header; a UTF-8 byte-order mark before it is
// ignored. Fields follow RFC 4180: quoted fields may hold commas, doubled
// quotes and line breaks.
//
// # Idempotence
//
// Rows are upserted by key (ASIN, category id). A row identical to the stored
// one is counted as unchanged and not written, so re-importing a file changes
// nothing; a row that differs is updated (updated_at is set, created_at kept).
// When the same key appears twice in one file, the later row wins, exactly as
// if the rows were applied one after the other.
//
// # Cache invalidation
//
// After the last transaction, [Options.Invalidate] is called once with the tag
// "category:<id>" of every category whose content changed (for a product
// whose category changed, both the old and the new one), then, for a product
// import, the tags of the products it inserted, then "products" or
// "categories". A cached "not found" answer for a product carries only its
// own tag "product:<asin>" (and "products-missing"), so an insert must reach
// it by that tag: an import that inserts up to 1000 products invalidates
// "product:<asin>" of each, exactly; one that inserts more invalidates
// "products-missing", the tag of every cached "not found", rather than leave
// a tag version per product in Redis for a day. Invalidate is not called
// when no row changed. It is called too when the import stops on an error
// after some transactions were committed, so that the cache never serves
// what the database no longer holds.
package importer
