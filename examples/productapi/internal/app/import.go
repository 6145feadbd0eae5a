package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
	"github.com/cachefront/cachefront/examples/productapi/internal/db"
	"github.com/cachefront/cachefront/examples/productapi/internal/httpapi"
	"github.com/cachefront/cachefront/examples/productapi/internal/importer"
)

// importAdapter is the CSV importer as the admin routes use it: every
// import invalidates the cache tags of what it changed, and a file in the
// wrong format is the client's fault.
type importAdapter struct{ a *App }

// importer returns the CSV importer of the admin routes.
func (a *App) importer() httpapi.Importer { return importAdapter{a} }

func (ia importAdapter) ImportCategories(ctx context.Context, r io.Reader) (any, error) {
	return ia.a.importCategories(ctx, r, ia.a.onlineOptions())
}

func (ia importAdapter) ImportProducts(ctx context.Context, r io.Reader) (any, error) {
	return ia.a.importProducts(ctx, r, ia.a.onlineOptions())
}

// onlineTxDuration bounds the transactions of an import made through the
// admin routes, which run while the server takes other writes: a fifth of
// the busy timeout, so that a registration, say, waits about that long at
// most for its turn on SQLite.
const onlineTxDuration = db.BusyTimeout / 5

// onlineOptions are the options of an import made through the admin
// routes: the service's, with transactions of at most onlineTxDuration,
// which also rules out the bulk path's single long transaction.
func (a *App) onlineOptions() importer.Options {
	o := a.importOptions(nil)
	o.MaxTxDuration = onlineTxDuration
	return o
}

// importOptions returns the importer options of the service: the cache
// invalidation hook (the importer's tags plus every product list, retried
// if Redis does not take them), the database's write turns, shared with
// the service's other writers, and progress, which may be nil.
func (a *App) importOptions(progress func(importer.Progress)) importer.Options {
	return importer.Options{
		Progress: progress,
		Invalidate: func(ctx context.Context, tags ...string) error {
			return a.Invalidations.Invalidate(ctx, append(tags, catalog.TagProducts)...)
		},
		Lock: a.DB.LockWrites,
	}
}

// ImportCategories imports amazon_categories.csv from r.
func (a *App) ImportCategories(ctx context.Context, r io.Reader, progress func(importer.Progress)) (importer.Summary, error) {
	return a.importCategories(ctx, r, a.importOptions(progress))
}

// ImportProducts imports amazon_products.csv from r; import the categories
// first. Unlike the admin routes, it may take the importer's bulk path,
// whose one transaction holds SQLite for the whole import: writers of a
// server using the same database then get 503 (busy) until it ends.
func (a *App) ImportProducts(ctx context.Context, r io.Reader, progress func(importer.Progress)) (importer.Summary, error) {
	return a.importProducts(ctx, r, a.importOptions(progress))
}

func (a *App) importCategories(ctx context.Context, r io.Reader, o importer.Options) (importer.Summary, error) {
	s, err := importer.New(a.DB.DB, string(a.DB.Dialect)).ImportCategories(ctx, r, o)
	return s, importError(err)
}

func (a *App) importProducts(ctx context.Context, r io.Reader, o importer.Options) (importer.Summary, error) {
	s, err := importer.New(a.DB.DB, string(a.DB.Dialect)).ImportProducts(ctx, r, o)
	return s, importError(err)
}

func importError(err error) error {
	if errors.Is(err, importer.ErrHeader) {
		return fmt.Errorf("%w: %w", httpapi.ErrBadCSV, err)
	}
	return err
}

// LoadSample loads the sample catalogue in fsys (amazon_categories.csv and
// amazon_products.csv) when the database holds no category and no product,
// so that a first start has something to show.
func (a *App) LoadSample(ctx context.Context, fsys fs.FS) error {
	empty, err := a.Catalog.Repository().Empty(ctx)
	if err != nil || !empty {
		return err
	}
	for _, f := range []struct {
		name string
		run  func(context.Context, io.Reader, func(importer.Progress)) (importer.Summary, error)
	}{{"amazon_categories.csv", a.ImportCategories}, {"amazon_products.csv", a.ImportProducts}} {
		file, err := fsys.Open(f.name)
		if err != nil {
			return fmt.Errorf("sample data: %w", err)
		}
		s, err := f.run(ctx, file, nil)
		file.Close()
		if err != nil {
			return fmt.Errorf("sample data %s: %w", f.name, err)
		}
		a.Log.Info("sample data loaded", "file", f.name, "inserted", s.Inserted, "failed", s.Failed)
	}
	return nil
}
