package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"catalog-bff/store"
)

// A call that does not return holds its callers no longer than
// CoalesceOptions.Timeout (or their own deadlines): they get an error
// wrapping context.DeadlineExceeded, the call is abandoned, its late result
// dropped, and the next request starts a call of its own at once rather
// than waiting behind the stuck one. (run should return when its context
// ends, as a Redis client does; this one does not, to show the worst case.)
func ExampleCoalescer_timeout() {
	hung := make(chan struct{})
	defer close(hung)
	lookup := store.NewCoalescer(store.CoalesceOptions{Timeout: 50 * time.Millisecond},
		func(ctx context.Context, keys []string) ([]string, error) {
			fmt.Println("call", keys)
			if slices.Contains(keys, "stuck") { // a round trip that answers only after the example
				<-hung
				return []string{"too late"}, nil
			}
			out := make([]string, len(keys))
			for i, k := range keys {
				out[i] = "value of " + k
			}
			return out, nil
		})
	ctx := context.Background()

	_, err := lookup.Do(ctx, "stuck")
	fmt.Println(err, errors.Is(err, context.DeadlineExceeded))
	v, err := lookup.Do(ctx, "next")
	fmt.Println(v, err)
	s := lookup.Stats()
	fmt.Printf("%d calls, %d abandoned, %d failed\n", s.Calls, s.Abandoned, s.Failed)
	// Output:
	// call [stuck]
	// store: coalesced call abandoned: context deadline exceeded true
	// call [next]
	// value of next <nil>
	// 2 calls, 1 abandoned, 0 failed
}
