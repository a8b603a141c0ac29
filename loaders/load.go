package loaders

import (
	"context"
	"fmt"

	"catalog-bff/store"
)

// Load and its siblings are how resolvers read cached documents, by
// document type: Load[*store.Seller] reads sellers. A document the near
// cache holds is answered at once, without waiting for a batch window: it
// is primed into the request's loader, so that every field of one request
// sees the same version of a document, and what the request already
// loaded (or a mutation reloaded) wins over the near cache. Only the keys
// it does not hold wait for a batch.

// Load returns document id of type D, or nil when no row has that id.
func Load[D store.Document](ctx context.Context, l *Loaders, id int64) (D, error) {
	dl := l.loader(kindOf[D]())
	l.primeNear(ctx, dl, id)
	doc, err := dl.Load(ctx, id)()
	d, _ := doc.(D)
	return d, err
}

// LoadMany returns the documents of ids of type D, in order, nil where no
// row has the id, with an error per id (nil for none).
func LoadMany[D store.Document](ctx context.Context, l *Loaders, ids []int64) ([]D, []error) {
	dl := l.loader(kindOf[D]())
	for _, id := range ids {
		l.primeNear(ctx, dl, id)
	}
	docs, errs := dl.LoadMany(ctx, ids)()
	out := make([]D, len(docs))
	for i, doc := range docs {
		out[i], _ = doc.(D)
	}
	return out, errs
}

// Forget makes the request forget what it loaded of document id of type
// D, so that its next Load reads it again.
func Forget[D store.Document](ctx context.Context, l *Loaders, id int64) {
	l.loader(kindOf[D]()).Clear(ctx, id)
}

// kindOf returns the kind of D. It panics when D is not a registered
// kind's document type, which is a programming error.
func kindOf[D store.Document]() store.Kind {
	k, ok := store.KindOf[D]()
	if !ok {
		var d D
		panic(fmt.Sprintf("loaders: %T is not the document type of a cached kind", d))
	}
	return k
}

// primeNear primes dl with the near cache's copy of id, if it holds one.
// Prime leaves a key the request loaded already as it is.
func (l *Loaders) primeNear(ctx context.Context, dl *docLoader, id int64) {
	v, ok := l.near.get(dl.batch.kind, id)
	if !ok {
		return
	}
	d, _ := v.(store.Document)
	dl.Prime(ctx, id, d)
	l.obs.CacheRead(ctx, dl.batch.kind, CacheNear, 1)
}
