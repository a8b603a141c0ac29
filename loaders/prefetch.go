package loaders

import (
	"context"
	"slices"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// Want names the documents of the next query levels that a request will
// ask for with its products. A product batch that reads SQL reads them
// with it, since a product names its seller and category: a cold product
// page is then one cache read, three statements and one write-back in
// all, instead of a cache read, a statement and a write-back per level.
type Want uint32

// The levels a request can want.
const (
	WantSeller   Want = 1 << iota // Product.seller
	WantCategory                  // Product.category
	WantParent                    // Product.category.parent
)

// Want tells the loaders that the request will ask for w with the products
// it loads. Resolvers call it before they load products; a batch that has
// started reads only what was wanted by then.
func (l *Loaders) Want(w Want) { l.want.Or(uint32(w)) }

// prefetch is the next level of a product batch that read SQL (cached.next):
// it reads the sellers and categories of products that the request wants
// and the near cache does not hold, one statement a table whatever their
// count, categories with their parents when those are wanted too. It
// primes the request's loaders with them, so that the request's later
// levels wait for nothing, offers them to the near cache, and returns
// their write-back. A failed read is left to the level's own loader.
func (l *Loaders) prefetch(ctx context.Context, products map[int64]store.Document, b *pass) []redisstore.KindFills {
	want := Want(l.want.Load())
	if want == 0 || len(products) == 0 {
		return nil
	}
	var sellers, categories []int64
	for _, doc := range products {
		p, _ := doc.(*store.Product)
		if p == nil {
			continue
		}
		if want&WantSeller != 0 && !l.near.holds(store.SellerKind, p.SellerID) && !slices.Contains(sellers, p.SellerID) {
			sellers = append(sellers, p.SellerID)
		}
		if c := p.CategoryID; want&(WantCategory|WantParent) != 0 && c != nil &&
			!l.near.holds(store.CategoryKind, *c) && !slices.Contains(categories, *c) {
			categories = append(categories, *c)
		}
	}
	var out []redisstore.KindFills
	if len(sellers) > 0 {
		if found, err := l.store.Documents(ctx, store.SellerKind, sellers); err == nil {
			out = append(out, l.primeLevel(ctx, store.SellerKind, sellers, found, b))
		}
	}
	if len(categories) > 0 {
		var found map[int64]store.Document
		var err error
		if want&WantParent != 0 {
			var withParents map[int64]*store.Category
			withParents, err = l.store.CategoriesWithParents(ctx, categories)
			found = store.AsDocuments(withParents)
		} else {
			found, err = l.store.Documents(ctx, store.CategoryKind, categories)
		}
		if err == nil {
			for id := range found { // the parents read with them
				if !slices.Contains(categories, id) {
					categories = append(categories, id)
				}
			}
			out = append(out, l.primeLevel(ctx, store.CategoryKind, categories, found, b))
		}
	}
	l.stats.prefetched.Add(int64(len(sellers) + len(categories)))
	return out
}

// primeLevel primes kind's loader with the documents of ids read from SQL
// (nil where found has none), offers them to the near cache as the
// loader's own batch would, and returns their write-back.
func (l *Loaders) primeLevel(ctx context.Context, kind store.Kind, ids []int64,
	found map[int64]store.Document, b *pass) redisstore.KindFills {
	dl := l.loader(kind)
	c := dl.batch
	vals := make([]store.Document, len(ids))
	sizes := make([]int, len(ids))
	fills := make([]redisstore.Fill, len(ids))
	for i, id := range ids {
		vals[i] = found[id]
		dl.Prime(ctx, id, vals[i])
		fills[i] = c.fillOf(id, vals[i], nil)
		sizes[i] = len(fills[i].Data)
	}
	if b.cacheUp {
		c.keep(ids, vals, make([]error, len(ids)), sizes, b.epoch)
	}
	return redisstore.KindFills{Kind: c.kind, Fills: fills}
}
