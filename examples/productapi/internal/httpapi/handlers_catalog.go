package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/cachefront/cachefront/examples/productapi/internal/catalog"
	"github.com/cachefront/cachefront/examples/productapi/internal/db"
)

// productInput is the body of POST and PUT /products: every writable field
// of a product. Timestamps are the server's.
type productInput struct {
	ASIN              string  `json:"asin"`
	Title             string  `json:"title"`
	ImgURL            string  `json:"img_url"`
	ProductURL        string  `json:"product_url"`
	Stars             float64 `json:"stars"`
	Reviews           int64   `json:"reviews"`
	Price             float64 `json:"price"`
	ListPrice         float64 `json:"list_price"`
	CategoryID        int64   `json:"category_id"`
	IsBestSeller      bool    `json:"is_best_seller"`
	BoughtInLastMonth int64   `json:"bought_in_last_month"`
}

func (in productInput) product() catalog.Product {
	return catalog.Product{
		ASIN: in.ASIN, Title: in.Title, ImgURL: in.ImgURL, ProductURL: in.ProductURL, Stars: in.Stars,
		Reviews: in.Reviews, Price: in.Price, ListPrice: in.ListPrice, CategoryID: in.CategoryID,
		IsBestSeller: in.IsBestSeller, BoughtInLastMonth: in.BoughtInLastMonth,
	}
}

// productListTags tags a product list with every product list and, when it
// is filtered by category, with that category.
func productListTags(r *http.Request) []string {
	f, err := listFilter(r)
	if err == nil && f.CategoryID != nil {
		return []string{catalog.TagProducts, catalog.TagCategory(*f.CategoryID)}
	}
	return []string{catalog.TagProducts}
}

// productTags tags a product page with its product; the handler adds the
// category once it knows it.
func productTags(r *http.Request) []string {
	return []string{catalog.TagProduct(r.PathValue("asin"))}
}

func (a *api) categories(w http.ResponseWriter, r *http.Request) {
	list, err := a.Catalog.Categories(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"categories": list})
}

func (a *api) listProducts(w http.ResponseWriter, r *http.Request) {
	f, err := listFilter(r)
	if err != nil {
		a.catalogError(w, r, err)
		return
	}
	page, err := a.Catalog.Products(r.Context(), f)
	if err != nil {
		a.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) getProduct(w http.ResponseWriter, r *http.Request) {
	asin, ok := pathASIN(w, r)
	if !ok {
		return
	}
	p, err := a.Catalog.Product(r.Context(), asin)
	if err != nil {
		a.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *api) createProduct(w http.ResponseWriter, r *http.Request) {
	var in productInput
	if e := decodeJSON(w, r, a.MaxBodyBytes, &in); e != nil {
		writeAPIError(w, r, e)
		return
	}
	p, err := a.Catalog.CreateProduct(r.Context(), in.product())
	if err != nil {
		a.catalogError(w, r, err)
		return
	}
	w.Header().Set("Location", "/products/"+p.ASIN)
	writeJSON(w, http.StatusCreated, p)
}

func (a *api) updateProduct(w http.ResponseWriter, r *http.Request) {
	asin, ok := pathASIN(w, r)
	if !ok {
		return
	}
	var in productInput
	if e := decodeJSON(w, r, a.MaxBodyBytes, &in); e != nil {
		writeAPIError(w, r, e)
		return
	}
	if in.ASIN != "" && in.ASIN != asin {
		writeAPIError(w, r, fieldError("asin", "must match the ASIN in the path (or be left out)"))
		return
	}
	in.ASIN = asin
	p, err := a.Catalog.UpdateProduct(r.Context(), in.product())
	if err != nil {
		a.catalogError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *api) deleteProduct(w http.ResponseWriter, r *http.Request) {
	asin, ok := pathASIN(w, r)
	if !ok {
		return
	}
	if err := a.Catalog.DeleteProduct(r.Context(), asin); err != nil {
		a.catalogError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func pathASIN(w http.ResponseWriter, r *http.Request) (string, bool) {
	asin := r.PathValue("asin")
	if reason := catalog.CheckASIN(asin); reason != "" {
		writeAPIError(w, r, fieldError("asin", reason))
		return "", false
	}
	return asin, true
}

func fieldError(field, reason string) *apiError {
	e := newError(http.StatusBadRequest, "invalid_field", "%s: %s", field, reason)
	e.field = field
	return e
}

// catalogError maps the catalogue's errors to responses.
func (a *api) catalogError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *catalog.FieldError
	switch {
	case errors.As(err, &fe):
		writeAPIError(w, r, fieldError(fe.Field, fe.Reason))
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, r, http.StatusNotFound, "not_found", "no such product")
	case errors.Is(err, catalog.ErrExists):
		writeError(w, r, http.StatusConflict, "exists", "a product with this ASIN already exists")
	case errors.Is(err, catalog.ErrUnknownCategory):
		e := newError(http.StatusUnprocessableEntity, "unknown_category", "category_id: no such category")
		e.field = "category_id"
		writeAPIError(w, r, e)
	default:
		a.internal(w, r, err)
	}
}

// internal logs err and answers 500 without details; a client that went
// away gets nothing logged as an error, and a write that found the
// database held by other writes too long (an import in another process,
// say) gets 503 with Retry-After, since a retry succeeds.
func (a *api) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return
	}
	if db.IsBusy(err) {
		a.Log.WarnContext(r.Context(), "database busy", "request_id", RequestIDFrom(r.Context()), "error", err)
		w.Header().Set("Retry-After", retryBusy)
		writeError(w, r, http.StatusServiceUnavailable, "database_busy", "the database is busy with other writes (an import, say); retry shortly")
		return
	}
	a.Log.ErrorContext(r.Context(), "request failed", "request_id", RequestIDFrom(r.Context()), "error", err)
	writeError(w, r, http.StatusInternalServerError, "internal", "internal server error")
}

// retryBusy is the Retry-After, in seconds, of a 503 database_busy.
const retryBusy = "2"

// invalidate invalidates tags after a committed write, before the response
// goes out, so that the client's next read sees its write; a failure is
// logged, and the entries expire with their TTL.
func (a *api) invalidate(r *http.Request, tags ...string) {
	ctx := context.WithoutCancel(r.Context())
	if err := a.Invalidate(ctx, tags...); err != nil {
		a.Log.ErrorContext(ctx, "cache invalidation failed; entries stay stale until their TTL", "tags", tags, "error", err)
	}
}
