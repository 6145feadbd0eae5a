// Package catalog is the product catalogue: categories and products, their
// SQL repository and the service in front of it that reads through the
// cache and invalidates exactly the tags each write affects.
package catalog

import (
	"errors"
	"strconv"
	"time"
)

// Category is a product category (amazon_categories.csv).
type Category struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Product is one product (amazon_products.csv) as the API shows it.
type Product struct {
	ASIN              string    `json:"asin" msgpack:"asin"`
	Title             string    `json:"title" msgpack:"title"`
	ImgURL            string    `json:"img_url" msgpack:"img_url"`
	ProductURL        string    `json:"product_url" msgpack:"product_url"`
	Stars             float64   `json:"stars" msgpack:"stars"`
	Reviews           int64     `json:"reviews" msgpack:"reviews"`
	Price             float64   `json:"price" msgpack:"price"`
	ListPrice         float64   `json:"list_price" msgpack:"list_price"`
	CategoryID        int64     `json:"category_id" msgpack:"category_id"`
	IsBestSeller      bool      `json:"is_best_seller" msgpack:"is_best_seller"`
	BoughtInLastMonth int64     `json:"bought_in_last_month" msgpack:"bought_in_last_month"`
	CreatedAt         time.Time `json:"created_at" msgpack:"created_at"`
	UpdatedAt         time.Time `json:"updated_at" msgpack:"updated_at"`
}

// Page is one page of a product list.
type Page struct {
	Products []Product `json:"products"`
	Page     int       `json:"page"`
	Limit    int       `json:"limit"`
	Total    int64     `json:"total"`
}

// Errors the service returns; the HTTP layer maps them to status codes.
var (
	ErrNotFound        = errors.New("not found")
	ErrExists          = errors.New("already exists")
	ErrUnknownCategory = errors.New("unknown category")
)

// Cache tags. A write invalidates the tags of everything it changes.
const (
	TagCategories = "categories" // the category list
	TagProducts   = "products"   // every product list
	// TagMissingProducts tags every cached "not found" answer of the
	// product cache (each also carries its product:<asin>), so that an
	// import inserting too many products to invalidate one tag each can
	// drop them all at once.
	TagMissingProducts = "products-missing"
)

// TagCategory tags the products of category id and the lists filtered by it.
func TagCategory(id int64) string { return "category:" + strconv.FormatInt(id, 10) }

// TagProduct tags one product.
func TagProduct(asin string) string { return "product:" + asin }
