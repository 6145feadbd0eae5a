package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cachefront/cachefront/examples/productapi/internal/app"
	"github.com/cachefront/cachefront/examples/productapi/internal/gen"
	"github.com/cachefront/cachefront/examples/productapi/internal/importer"
)

// importCmd imports Kaggle CSV files into the configured database, with a
// progress bar, and invalidates the cache tags of what changed in the
// configured Redis.
func importCmd(ctx context.Context, args []string) error {
	fs := newFlagSet("import", "import --products FILE [--categories FILE]: import Kaggle CSV files")
	products := fs.String("products", "", "amazon_products.csv to import")
	categories := fs.String("categories", "", "amazon_categories.csv to import first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *products == "" && *categories == "" {
		return errors.New("import: give --products FILE and/or --categories FILE")
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger("warn")
	if cfg.EmbeddedRedis() {
		fmt.Fprintln(os.Stderr, "note: REDIS_URL is not set, so a running server's embedded cache cannot be invalidated from here; its entries expire within CACHE_TTL")
		log = slog.New(slog.DiscardHandler)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	for _, f := range []struct {
		path string
		run  func(context.Context, io.Reader, func(importer.Progress)) (importer.Summary, error)
	}{{*categories, a.ImportCategories}, {*products, a.ImportProducts}} {
		if f.path == "" {
			continue
		}
		if err := importFile(ctx, f.path, f.run); err != nil {
			return err
		}
	}
	return nil
}

func importFile(ctx context.Context, path string, run func(context.Context, io.Reader, func(importer.Progress)) (importer.Summary, error)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	var size int64
	if st, err := file.Stat(); err == nil {
		size = st.Size()
	}
	fmt.Fprintf(os.Stderr, "importing %s\n", path)
	s, err := run(ctx, file, importer.TerminalProgress(os.Stderr, size))
	fmt.Println(s.String())
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	return nil
}

// genCmd writes a generated catalogue in the Kaggle format.
func genCmd(args []string) error {
	fs := newFlagSet("gen", "gen --rows N --out DIR [--seed S]: write a generated catalogue")
	rows := fs.Int("rows", 10000, "number of products")
	out := fs.String("out", ".", "directory to write amazon_products.csv and amazon_categories.csv into")
	seed := fs.Int64("seed", 1, "random seed (the same seed writes the same files)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows < 0 {
		return errors.New("gen: --rows must not be negative")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	if err := gen.Write(*out, *rows, *seed); err != nil {
		return err
	}
	fmt.Printf("wrote %d products to %s in %s\n", *rows, *out, time.Since(start).Round(time.Millisecond))
	return nil
}
