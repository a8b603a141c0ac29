package store

import "slices"

// Kind is a type of cached document. Its string is the type segment of the
// document's cache key ("catalog:v1:g1:{product:42}"), the kind an
// invalidation names, and the label of the cache's metrics.
type Kind string

// The cached kinds.
const (
	ProductKind  Kind = "product"
	SellerKind   Kind = "seller"
	CategoryKind Kind = "category"
)

// kinds registers what varies between cached kinds and is not a Go type:
// the table a kind's rows live in (the auditor reads their versions, a
// write locks its row there). A kind missing here is not cached.
var kinds = map[Kind]struct{ table string }{
	ProductKind:  {table: "products"},
	SellerKind:   {table: "sellers"},
	CategoryKind: {table: "categories"},
}

// Kinds returns the cached kinds, in a stable order.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Table returns the table of k's rows, and whether k is a cached kind.
func (k Kind) Table() (string, bool) {
	info, ok := kinds[k]
	return info.table, ok
}
