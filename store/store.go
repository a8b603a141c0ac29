// Package store is the catalogue's domain: its documents (Product, Seller,
// Category), the kinds of cached document and what varies between them,
// the inputs of writes and their validation, the error codes every layer
// reports, and the invalidations a write produces. It imports nothing else
// of this module.
//
// The storage is in the packages below it, by technology: sqlstore is SQL
// (PostgreSQL or the embedded SQLite: queries, writes, migrations, seed
// data, the invalidation outbox), redisstore is Redis (the document
// cache, its leases and breaker, cluster support, the view counter's
// scripts, the rate limiter, persisted queries). The code that combines
// the two lives above them: loaders (the read path, the invalidation
// worker and the auditor) and views (the write-behind view counter).
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

// Document is a cached document. Ref names it: its kind and id, which
// are its cache entry's and its invalidations', and the version it was
// read at; a nil document's Ref is the zero Ref. The response cache notes,
// from Refs alone, which documents a response shows, and the loaders
// version the cache entries they write.
type Document interface {
	Ref() Ref
}

// Ref names one version of a document.
type Ref struct {
	Kind    Kind
	ID      int64
	Version int64
}

var (
	_ Document = (*Product)(nil)
	_ Document = (*Seller)(nil)
	_ Document = (*Category)(nil)
)

// Ref implements Document.
func (p *Product) Ref() Ref {
	if p == nil {
		return Ref{}
	}
	return Ref{ProductKind, p.ID, p.Version}
}

// Ref implements Document.
func (s *Seller) Ref() Ref {
	if s == nil {
		return Ref{}
	}
	return Ref{SellerKind, s.ID, s.Version}
}

// Ref implements Document.
func (c *Category) Ref() Ref {
	if c == nil {
		return Ref{}
	}
	return Ref{CategoryKind, c.ID, c.Version}
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

// Invalidation says that a write created version Version of a row, so that
// cached copies of older versions must go.
type Invalidation struct {
	Kind    Kind // the document's kind: product, seller or category
	ID      int64
	Version int64
	Seq     int64 // its place in the outbox; 0 when it was not queued
}
