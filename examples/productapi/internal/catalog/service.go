package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cachefront/cachefront"
)

// Service is the catalogue as the HTTP layer uses it: reads go through the
// cache where the cache is the natural place, and every write invalidates
// exactly the cache tags of what it changed, after it committed. It is safe
// for concurrent use.
type Service struct {
	repo       *Repository
	products   *cachefront.Cache[Product]
	invalidate func(ctx context.Context, tags ...string) error
	log        *slog.Logger
}

// ProductCacheName is the name of the product cache: product entries appear
// as "product:<asin>" in cache statistics and key deletion.
const ProductCacheName = "product"

// NewService returns a Service over repo caching products in store for ttl
// and invalidating tags after writes with invalidate (Store.InvalidateTags,
// or a queue that retries what Redis could not take). Product lookups that
// find nothing are cached for a few seconds, so that probing missing ASINs
// does not reach the database each time; creating the product invalidates
// that answer.
func NewService(repo *Repository, store *cachefront.Store, ttl time.Duration,
	invalidate func(ctx context.Context, tags ...string) error, log *slog.Logger) *Service {
	return &Service{
		repo:       repo,
		invalidate: invalidate,
		products: cachefront.New[Product](store, ProductCacheName,
			cachefront.WithTTL(ttl), cachefront.WithNegativeTTL(min(ttl, 5*time.Second))),
		log: log,
	}
}

// Repository returns the service's repository.
func (s *Service) Repository() *Repository { return s.repo }

// Categories returns every category.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	return s.repo.Categories(ctx)
}

// Products returns a page of products.
func (s *Service) Products(ctx context.Context, f Filter) (Page, error) {
	return s.repo.ListProducts(ctx, f)
}

// Product returns product asin through the cache, tagged with the product
// and its category; a missing product is ErrNotFound, cached briefly with
// the tags product:<asin> and TagMissingProducts. The category tag is added
// to the surrounding load too (an HTTP response being cached, say).
func (s *Service) Product(ctx context.Context, asin string) (Product, error) {
	p, err := s.products.GetOrLoad(ctx, asin, func(ctx context.Context) (Product, error) {
		p, err := s.repo.Product(ctx, asin)
		if errors.Is(err, ErrNotFound) {
			cachefront.AddTags(ctx, TagMissingProducts)
			return p, fmt.Errorf("%w: %w", cachefront.ErrNotFound, err)
		}
		if err == nil {
			cachefront.AddTags(ctx, TagCategory(p.CategoryID))
		}
		return p, err
	}, cachefront.WithTags(TagProduct(asin)))
	if errors.Is(err, cachefront.ErrNotFound) {
		return Product{}, fmt.Errorf("product %s: %w", asin, ErrNotFound)
	}
	if err != nil {
		return Product{}, err
	}
	cachefront.AddTags(ctx, TagCategory(p.CategoryID))
	return p, nil
}

// CreateProduct validates and inserts p.
func (s *Service) CreateProduct(ctx context.Context, p Product) (Product, error) {
	if err := p.Validate(); err != nil {
		return Product{}, err
	}
	created, err := s.repo.CreateProduct(ctx, p)
	if err != nil {
		return Product{}, err
	}
	s.after(ctx, TagProducts, TagCategory(created.CategoryID), TagProduct(created.ASIN))
	return created, nil
}

// UpdateProduct validates p and replaces product p.ASIN with it.
func (s *Service) UpdateProduct(ctx context.Context, p Product) (Product, error) {
	if err := p.Validate(); err != nil {
		return Product{}, err
	}
	updated, oldCategory, err := s.repo.UpdateProduct(ctx, p)
	if err != nil {
		return Product{}, err
	}
	s.after(ctx, TagProducts, TagProduct(updated.ASIN), TagCategory(oldCategory), TagCategory(updated.CategoryID))
	return updated, nil
}

// DeleteProduct deletes product asin.
func (s *Service) DeleteProduct(ctx context.Context, asin string) error {
	category, err := s.repo.DeleteProduct(ctx, asin)
	if err != nil {
		return err
	}
	s.after(ctx, TagProducts, TagProduct(asin), TagCategory(category))
	return nil
}

// after invalidates tags after a committed write. The write stands whatever
// happens here: a failure is logged, and the entries expire with their TTL.
func (s *Service) after(ctx context.Context, tags ...string) {
	if err := s.invalidate(context.WithoutCancel(ctx), tags...); err != nil {
		s.log.ErrorContext(ctx, "cache invalidation failed; entries stay stale until their TTL", "tags", tags, "error", err)
	}
}
