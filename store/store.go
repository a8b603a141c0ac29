// Package store is the service's data layer: the catalogue's types, its SQL
// storage (PostgreSQL or the embedded SQLite), its migrations and seed data,
// and the Redis cache that sits in front of the SQL reads.
//
// store imports nothing else of this module. The loaders package composes the
// SQL store and the cache into the read path.
package store

import "time"

// Product is the cached product document: the products row with its images
// and tags. Stock and options are live and kept out of it; so are the seller
// and the category, which are cached on their own and referenced by id.
type Product struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Price       Money     `json:"price"`
	CategoryID  *int64    `json:"categoryId,omitempty"`
	SellerID    int64     `json:"sellerId"`
	Images      []Image   `json:"images"`
	Tags        []string  `json:"tags"`
	Hits        int64     `json:"hits"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Money is an amount in the currency's minor unit.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Image is one product image, in display order.
type Image struct {
	URL string `json:"url"`
	Alt string `json:"alt"`
}

// Seller is the cached seller document.
type Seller struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	Rating  float64 `json:"rating"`
	Version int64   `json:"version"`
}

// Category is the cached category document. ParentID is nil for a top-level
// category.
type Category struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ParentID *int64 `json:"parentId,omitempty"`
	Version  int64  `json:"version"`
}

// Option is a purchasable variant of a product. It is read live and never
// cached, because its stock changes with every sale.
type Option struct {
	ID         int64
	ProductID  int64
	Name       string
	PriceDelta int64
	Stock      int64
}

// ListingKey is a product's position in a category listing, which is ordered
// by CreatedAt descending, then ID descending.
type ListingKey struct {
	CreatedAt time.Time
	ID        int64
}

// micros converts a stored timestamp (microseconds since the Unix epoch) to a
// UTC time. Timestamps are stored as integers in both dialects so that they
// compare exactly, which the listing cursor relies on.
func micros(us int64) time.Time { return time.UnixMicro(us).UTC() }
