package store

import (
	"reflect"
	"slices"
)

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

// kinds registers each cached kind: its document type and the table its
// rows live in. Everything that caches, invalidates, audits or counts
// documents follows it: the loaders make a cached loader for each kind,
// the auditor reads each table's versions, a write locks its row there.
// The one other thing a new kind needs is its SQL read, registered in
// sqlstore beside the query. A kind missing here is not cached.
var kinds = map[Kind]kindInfo{
	ProductKind:  register[Product]("products"),
	SellerKind:   register[Seller]("sellers"),
	CategoryKind: register[Category]("categories"),
}

type kindInfo struct {
	table string
	typ   reflect.Type // the document type, *T
	new   func() Document
}

// register describes a kind whose documents are *T, kept in table.
func register[T any, D interface {
	*T
	Document
}](table string) kindInfo {
	return kindInfo{table: table, typ: reflect.TypeFor[D](), new: func() Document { return D(new(T)) }}
}

// kindOfType maps each registered document type to its kind.
var kindOfType = func() map[reflect.Type]Kind {
	m := make(map[reflect.Type]Kind, len(kinds))
	for k, info := range kinds {
		m[info.typ] = k
	}
	return m
}()

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

// New returns a new, empty document of kind k to decode into, or nil when
// k is not a cached kind.
func (k Kind) New() Document {
	if info, ok := kinds[k]; ok {
		return info.new()
	}
	return nil
}

// KindOf returns the kind of the documents of type D (*Product:
// ProductKind), and whether D is a registered kind's.
func KindOf[D Document]() (Kind, bool) {
	k, ok := kindOfType[reflect.TypeFor[D]()]
	return k, ok
}

// AsDocuments returns docs, a kind's documents keyed by id, as Documents.
func AsDocuments[D Document](docs map[int64]D) map[int64]Document {
	out := make(map[int64]Document, len(docs))
	for id, doc := range docs {
		out[id] = doc
	}
	return out
}
