package loaders_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// catalogue is a Store of three products, printing each statement it is
// asked for.
type catalogue struct{ loaders.Store }

func (catalogue) Documents(_ context.Context, _ store.Kind, ids []int64) (map[int64]store.Document, error) {
	ids = slices.Sorted(slices.Values(ids))
	fmt.Println("SELECT products WHERE id IN", ids)
	out := map[int64]store.Document{}
	for _, id := range ids {
		if id <= 3 {
			out[id] = &store.Product{ID: id, Name: fmt.Sprint("product ", id), Version: 1}
		}
	}
	return out, nil
}

// A request's resolvers load products concurrently; the loaders send one
// statement for all of them, and a product asked for twice is fetched
// once. Without a cache (Options.Cache nil) every load reads SQL.
//
// A loader runs its batch when the window (Options.Wait) ends or when the
// batch holds Options.MaxBatch keys, whichever comes first; a key the
// request has asked for already is answered without joining a batch. Here
// MaxBatch is the three products the request asks for, so the batch runs
// as the last of them is asked for, in whatever order the goroutines run,
// and the window is long enough (a minute) never to end first. The
// service's defaults are 1 ms and 500.
func ExampleFactory() {
	f := loaders.NewFactory(loaders.Options{Store: catalogue{}, Wait: time.Minute, MaxBatch: 3})
	l := f.New() // one request's loaders: Factory.Middleware makes them per request
	ctx := loaders.With(context.Background(), l)

	names := make([]string, 4)
	var wg sync.WaitGroup
	for i, id := range []int64{2, 1, 2, 9} {
		wg.Go(func() {
			p, err := loaders.Load[*store.Product](ctx, loaders.For(ctx), id)
			switch {
			case err != nil:
				names[i] = err.Error()
			case p == nil:
				names[i] = "no such product"
			default:
				names[i] = p.Name
			}
		})
	}
	wg.Wait()
	fmt.Println(names)
	// Output:
	// SELECT products WHERE id IN [1 2 9]
	// [product 2 product 1 product 2 no such product]
}

// shelf is a Store of one product, id 1, whose row a write can change. It
// prints each statement it is asked for. during, when set, runs once,
// inside the next statement, after the row was read: a write committing
// while a batch reads SQL.
type shelf struct {
	loaders.Store
	mu     sync.Mutex
	row    store.Product
	during func()
}

func (s *shelf) Documents(_ context.Context, _ store.Kind, ids []int64) (map[int64]store.Document, error) {
	fmt.Println("sql: SELECT products WHERE id IN", ids)
	s.mu.Lock()
	p, during := s.row, s.during
	s.during = nil
	s.mu.Unlock()
	if during != nil {
		during()
	}
	out := map[int64]store.Document{}
	if slices.Contains(ids, p.ID) {
		out[p.ID] = &p
	}
	return out, nil
}

// rename commits a write to the row: a new name at the next version, which
// it returns as the invalidation the write makes due.
func (s *shelf) rename(name string) []store.Invalidation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.row.Name, s.row.Version = name, s.row.Version+1
	return []store.Invalidation{{Kind: store.ProductKind, ID: s.row.ID, Version: s.row.Version}}
}

// coldRedis stands for a Redis that answers and holds nothing: every read
// misses, and write-backs are dropped. The near cache keeps only what a
// batch read while Redis answered, since only then does it hear every
// invalidation; a Factory without a Cache never fills it.
type coldRedis struct{}

func (coldRedis) Read(_ context.Context, kind store.Kind, ids []int64, _ time.Duration) ([]redisstore.Entry, []redisstore.LeaseState, error) {
	fmt.Println("redis: read", kind, ids)
	return make([]redisstore.Entry, len(ids)), make([]redisstore.LeaseState, len(ids)), nil // store.Miss each
}

func (coldRedis) PutKinds(context.Context, ...redisstore.KindFills) error { return nil }

func (coldRedis) Get(_ context.Context, _ store.Kind, ids []int64) ([]redisstore.Entry, error) {
	return make([]redisstore.Entry, len(ids)), nil
}

// request loads product id as one request's resolver would, and prints it.
func request(f *loaders.Factory, id int64) {
	ctx := loaders.With(context.Background(), f.New())
	p, err := loaders.Load[*store.Product](ctx, loaders.For(ctx), id)
	switch {
	case err != nil:
		fmt.Println("error:", err)
	case p == nil:
		fmt.Println("no such product")
	default:
		fmt.Printf("%s, version %d\n", p.Name, p.Version)
	}
}

// The near cache keeps, in process and shared by every request, the
// documents that batches read. A later request's load that it holds needs
// no Redis round trip, no SQL and no batch window. A write's invalidation
// drops the document (loaders.CacheInvalidator tells this instance's near cache
// before Redis; other instances hear it on the invalidation stream), so the
// next request reads the new row.
func ExampleNear() {
	near := loaders.NewNear(loaders.NearOptions{MaxEntries: 1000, MaxBytes: 1 << 20})
	near.StreamUp(true) // redisstore.Cache.Watch says so once its subscription is up; until then it holds nothing
	db := &shelf{row: store.Product{ID: 1, Name: "Lamp", Version: 1}}
	f := loaders.NewFactory(loaders.Options{Store: db, Cache: coldRedis{}, Near: near})

	request(f, 1)
	request(f, 1) // answered by the near cache
	near.Invalidated(db.rename("Desk lamp"))
	request(f, 1)
	request(f, 1)
	s := near.Stats()
	fmt.Println("near cache:", s.Hits, "hits,", s.Misses, "misses")
	// Output:
	// redis: read product [1]
	// sql: SELECT products WHERE id IN [1]
	// Lamp, version 1
	// Lamp, version 1
	// redis: read product [1]
	// sql: SELECT products WHERE id IN [1]
	// Desk lamp, version 2
	// Desk lamp, version 2
	// near cache: 2 hits, 2 misses
}

// A write commits while a batch reads SQL: the batch holds the row as it
// was before the write (version 1), and the write's invalidation reaches the
// near cache before the batch offers it that row. The invalidation leaves
// a marker of the version the write created, which an older document never
// replaces: the request that started before the write shows the old row,
// and the next one reads the new row rather than the near cache's copy of
// the old one.
func ExampleNear_writeDuringRead() {
	near := loaders.NewNear(loaders.NearOptions{MaxEntries: 1000, MaxBytes: 1 << 20})
	near.StreamUp(true)
	db := &shelf{row: store.Product{ID: 1, Name: "Lamp", Version: 1}}
	db.during = func() { near.Invalidated(db.rename("Desk lamp")) }
	f := loaders.NewFactory(loaders.Options{Store: db, Cache: coldRedis{}, Near: near})

	request(f, 1) // its SELECT reads version 1, then the write commits
	request(f, 1)
	request(f, 1)
	// Output:
	// redis: read product [1]
	// sql: SELECT products WHERE id IN [1]
	// Lamp, version 1
	// redis: read product [1]
	// sql: SELECT products WHERE id IN [1]
	// Desk lamp, version 2
	// Desk lamp, version 2
}
