package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
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
	return ia.a.ImportCategories(ctx, r, nil)
}

func (ia importAdapter) ImportProducts(ctx context.Context, r io.Reader) (any, error) {
	return ia.a.ImportProducts(ctx, r, nil)
}

// importOptions returns the importer options of the service: the cache
// invalidation hook (the importer's tags plus every product list, retried
// if Redis does not take them) and progress, which may be nil.
func (a *App) importOptions(progress func(importer.Progress)) importer.Options {
	return importer.Options{
		Progress: progress,
		Invalidate: func(ctx context.Context, tags ...string) error {
			return a.Invalidations.Invalidate(ctx, append(tags, catalog.TagProducts)...)
		},
	}
}

// ImportCategories imports amazon_categories.csv from r.
func (a *App) ImportCategories(ctx context.Context, r io.Reader, progress func(importer.Progress)) (importer.Summary, error) {
	s, err := importer.New(a.DB.DB, string(a.DB.Dialect)).ImportCategories(ctx, r, a.importOptions(progress))
	return s, importError(err)
}

// ImportProducts imports amazon_products.csv from r; import the categories
// first.
func (a *App) ImportProducts(ctx context.Context, r io.Reader, progress func(importer.Progress)) (importer.Summary, error) {
	s, err := importer.New(a.DB.DB, string(a.DB.Dialect)).ImportProducts(ctx, r, a.importOptions(progress))
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
