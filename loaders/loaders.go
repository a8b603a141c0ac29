// Package loaders holds the per-request dataloaders of the read path. A
// request's resolvers call Load on them concurrently; each loader collects
// the keys asked for within a short window and fetches them in one batch.
//
// The cached kinds (store.Kinds: product, seller, category) each have a
// loader whose batch function reads every key from Redis in one round
// trip, fetches only the misses from SQL (one statement per table), and
// writes what it fetched back in one pipelined round trip. ProductOptions
// and Stock are live: one SQL statement a batch, never cached. Hits comes
// from the view counter: one Redis round trip a batch.
//
// Loaders are made per request by Factory.Middleware and never shared between
// requests: a loader memoizes what it loaded, and its batches run under the
// context of the request that started them.
package loaders

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"golang.org/x/sync/semaphore"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/throttle"
)

// Store is the SQL side of the read path. Each method sends at most one
// statement per table, returns found rows keyed by id, and leaves ids with
// no row out of the map.
type Store interface {
	// Documents reads documents of a cached kind (store.Kinds), each of
	// the kind's own type.
	Documents(ctx context.Context, kind store.Kind, ids []int64) (map[int64]store.Document, error)
	// CategoriesWithParents reads categories with the parents of ids too.
	CategoriesWithParents(ctx context.Context, ids []int64) (map[int64]*store.Category, error)
	ProductOptions(ctx context.Context, productIDs []int64) (map[int64][]store.Option, error)
	Stock(ctx context.Context, productIDs []int64) (map[int64]int64, error)
}

var _ Store = (*sqlstore.DB)(nil)

// Cache is the Redis side of the read path: Read is one round trip for all
// ids that also takes the fill leases of the misses, PutKinds one for all
// fills, and Get one for the ids a reader waits on.
type Cache interface {
	Read(ctx context.Context, kind store.Kind, ids []int64, leaseTTL time.Duration) ([]redisstore.Entry, []redisstore.LeaseState, error)
	PutKinds(ctx context.Context, groups ...redisstore.KindFills) error
	Get(ctx context.Context, kind store.Kind, ids []int64) ([]redisstore.Entry, error)
}

var _ Cache = (*redisstore.Cache)(nil)

// Hits is the view counter (views.Counter): the hits of the products among
// ids that exist, views not yet flushed to SQL included; products that do
// not exist are absent. One call per batch.
type Hits interface {
	Hits(ctx context.Context, ids []int64) (map[int64]int64, error)
}

// Options configures a Factory.
type Options struct {
	Store Store
	// Cache is consulted before Store. Nil means no cache: every load reads
	// SQL.
	Cache Cache
	// Hits answers the Hits loader. Required when a query can ask for
	// Product.hits.
	Hits Hits
	// Wait is how long a loader collects keys before it runs a batch. It is
	// paid once per level of the query, so keep it short. Default 1ms.
	Wait time.Duration
	// MaxBatch caps the keys of one batch. Default 500.
	MaxBatch int
	Logger   *slog.Logger
	// Faults, when set, is told "after-fetch" (store.Faults) after a cached
	// batch has read its misses from SQL and before it writes them back:
	// the window in which a write can race the reader. Tests hold a reader
	// there.
	Faults store.Faults
	// LeaseTTL is the fill lease of a missed key (see redisstore.Cache.Read):
	// the most a reader waits for another to fill a key before it reads SQL
	// itself. 0 takes no leases.
	LeaseTTL time.Duration
	// FallbackMaxInflight bounds the SQL reads that stand in for a cache
	// that is down; 0 sets no bound. FallbackWait is how long a read waits
	// for a slot before it is refused with Unavailable; default 100ms.
	FallbackMaxInflight int
	FallbackWait        time.Duration
	// Audit, when set, is offered every cache hit (loaders.Auditor).
	Audit Sampler
	// Observer is told of every batch and cache read. Default none.
	Observer Observer
	// Near is the near cache in front of Cache, shared by every request.
	// Nil means none. It is filled only from batches whose cache read
	// succeeded.
	Near *Near
}

// Sampler is offered each document served from the cache, with the
// version the cache held.
type Sampler interface {
	Sample(kind store.Kind, id, version int64)
}

// Factory makes the loaders of each request. It is safe for concurrent use.
type Factory struct {
	opt       Options
	kinds     []store.Kind
	cacheWarn throttle.Throttle // rate-limits warnings about a failing cache
	flights   flights
	fallback  *semaphore.Weighted // nil: no bound
	stats     stats
}

// NewFactory returns a Factory that builds loaders over opt's store and cache.
func NewFactory(opt Options) *Factory {
	if opt.Wait <= 0 {
		opt.Wait = time.Millisecond
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 500
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.FallbackWait <= 0 {
		opt.FallbackWait = 100 * time.Millisecond
	}
	if opt.Observer == nil {
		opt.Observer = nopObserver{}
	}
	f := &Factory{opt: opt, kinds: store.Kinds()}
	if opt.FallbackMaxInflight > 0 {
		f.fallback = semaphore.NewWeighted(int64(opt.FallbackMaxInflight))
	}
	return f
}

// Loaders are one request's dataloaders: one for each cached kind
// (store.Kinds), which Load and its siblings reach by document type, and
// the live ones.
type Loaders struct {
	// ProductOptions is a product's purchasable options (store.Option).
	ProductOptions *dataloader.Loader[int64, []store.Option]
	Stock          *dataloader.Loader[int64, int64]
	// Hits is a product's views, from the view counter. recordView primes
	// it with the count it returns.
	Hits *dataloader.Loader[int64, int64]

	docs  []docLoader // one for each of store.Kinds, in its order
	store Store
	near  *Near
	obs   Observer
	stats *stats
	want  atomic.Uint32 // Want bits
}

// docLoader is the loader of one cached kind, with its batch function.
type docLoader struct {
	*dataloader.Loader[int64, store.Document]
	batch *cached
}

// New returns a fresh set of loaders, for one request.
func (f *Factory) New() *Loaders {
	l := &Loaders{
		ProductOptions: newLoader(f, "options", f.productOptions),
		Stock:          newLoader(f, "stock", f.stock),
		Hits:           newLoader(f, "hits", f.hits),
		docs:           make([]docLoader, len(f.kinds)),
		store:          f.opt.Store,
		near:           f.opt.Near,
		obs:            f.opt.Observer,
		stats:          &f.stats,
	}
	for i, k := range f.kinds {
		c := &cached{f: f, kind: k}
		if k == store.ProductKind {
			c.next = l.prefetch
		}
		l.docs[i] = docLoader{Loader: newLoader(f, string(k), c.batch), batch: c}
	}
	return l
}

// loader returns the loader of kind. It panics for a kind that is not
// cached, which is a programming error.
func (l *Loaders) loader(kind store.Kind) *docLoader {
	for i := range l.docs {
		if l.docs[i].batch.kind == kind {
			return &l.docs[i]
		}
	}
	panic("loaders: " + string(kind) + " is not a cached kind")
}

// newLoader returns a loader over batch that tells the Factory's Observer of
// each batch, under name.
func newLoader[V any](f *Factory, name string, batch dataloader.BatchFunc[int64, V]) *dataloader.Loader[int64, V] {
	observed := func(ctx context.Context, keys []int64) []*dataloader.Result[V] {
		ctx, end := f.opt.Observer.StartBatch(ctx, name, len(keys))
		defer end()
		return batch(ctx, keys)
	}
	return dataloader.NewBatchedLoader(observed,
		dataloader.WithWait[int64, V](f.opt.Wait),
		dataloader.WithBatchCapacity[int64, V](f.opt.MaxBatch))
}

type ctxKey struct{}

// Middleware gives each request its own Loaders, which For reads back.
func (f *Factory) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(With(r.Context(), f.New())))
	})
}

// With returns a copy of ctx that carries l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the loaders of ctx's request. It panics when the request did
// not pass through Middleware, which is a wiring bug.
func For(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in context; is the handler wrapped in Factory.Middleware?")
	}
	return l
}
