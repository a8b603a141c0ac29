package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"catalog-bff/store/redisstore"
)

// While a call is in flight, the requests of other callers queue, and the
// next call takes them all: eight callers cost two calls, not eight, and
// each gets its own answer. (The example holds the first call until the
// other seven have queued, which redisstore.Queued, a hook of the tests, reads:
// so the split is the same on any machine. In the service the queue fills
// by itself, the more so the heavier the load.)
func ExampleCoalescer() {
	var calls atomic.Int64
	release := make(chan struct{})
	inFlight := make(chan struct{})
	square := redisstore.NewCoalescer(redisstore.CoalesceOptions{},
		func(ctx context.Context, xs []int) ([]int, error) {
			fmt.Println("call", slices.Sorted(slices.Values(xs))) // in queue order; sorted to print
			if calls.Add(1) == 1 {
				close(inFlight)
				<-release
			}
			out := make([]int, len(xs))
			for i, x := range xs {
				out[i] = x * x
			}
			return out, nil
		})
	ctx := context.Background()
	results, errs := make([]int, 8), make([]error, 8)
	var answered atomic.Int64
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = square.Do(ctx, i)
			answered.Add(1)
		})
		if i == 0 {
			<-inFlight // caller 0's call started at once, alone
		}
	}
	// Wait for the seven others to queue (or, from a Coalescer that does not
	// queue them, to be answered).
	for redisstore.Queued(square)+int(answered.Load()) < len(results)-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	fmt.Println(results, errors.Join(errs...))
	s := square.Stats()
	fmt.Printf("%d calls for %d requests\n", s.Calls, s.Requests)
	// Output:
	// call [0]
	// call [1 2 3 4 5 6 7]
	// [0 1 4 9 16 25 36 49] <nil>
	// 2 calls for 8 requests
}

// A call that does not return holds its callers no longer than
// CoalesceOptions.Timeout (or their own deadlines): they get an error
// wrapping context.DeadlineExceeded, the call is abandoned, its late result
// dropped, and the next request starts a call of its own at once rather
// than waiting behind the stuck one. (run should return when its context
// ends, as a Redis client does; this one does not, to show the worst case.)
func ExampleCoalescer_timeout() {
	hung := make(chan struct{})
	defer close(hung)
	lookup := redisstore.NewCoalescer(redisstore.CoalesceOptions{Timeout: 50 * time.Millisecond},
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
