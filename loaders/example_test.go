package loaders_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"catalog-bff/loaders"
	"catalog-bff/store"
)

// catalogue is a Store of three products, printing each statement it is
// asked for.
type catalogue struct{ loaders.Store }

func (catalogue) Products(_ context.Context, ids []int64) (map[int64]*store.Product, error) {
	ids = slices.Sorted(slices.Values(ids))
	fmt.Println("SELECT products WHERE id IN", ids)
	out := map[int64]*store.Product{}
	for _, id := range ids {
		if id <= 3 {
			out[id] = &store.Product{ID: id, Name: fmt.Sprint("product ", id), Version: 1}
		}
	}
	return out, nil
}

// A request's resolvers load products concurrently; the loaders send one
// statement for all of them, and a product asked for twice is fetched
// once. Without a cache (Options.Cache nil) every load reads SQL. (The
// batch window is long here so that the example's goroutines land in one
// batch on a busy machine; the service's default is 1 ms.)
func ExampleFactory() {
	f := loaders.NewFactory(loaders.Options{Store: catalogue{}, Wait: 200 * time.Millisecond})
	l := f.New() // one request's loaders: Factory.Middleware makes them per request
	ctx := loaders.With(context.Background(), l)

	names := make([]string, 4)
	var wg sync.WaitGroup
	for i, id := range []int64{2, 1, 2, 9} {
		wg.Go(func() {
			p, err := loaders.For(ctx).LoadProduct(ctx, id)
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
