package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// gatedCall is a run function whose first call blocks until open is
// closed, after telling entered; it records every call's requests.
type gatedCall struct {
	entered, open chan struct{}
	once          sync.Once
	mu            sync.Mutex
	batches       [][]int
	fail          error
}

func newGatedCall() *gatedCall {
	return &gatedCall{entered: make(chan struct{}), open: make(chan struct{})}
}

func (g *gatedCall) run(ctx context.Context, xs []int) ([]int, error) {
	g.once.Do(func() { close(g.entered); <-g.open })
	g.mu.Lock()
	g.batches = append(g.batches, slices.Clone(xs))
	g.mu.Unlock()
	if g.fail != nil {
		return nil, g.fail
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = 10 * x
	}
	return out, nil
}

// waitFor polls cond for up to 10 s: a bound that only a broken
// Coalescer, not a loaded machine, reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	storetest.Eventually(t, 10*time.Second, what, cond)
}

// gatedRun starts caller 0, whose call blocks, queues callers 1..n-1
// behind it, opens the gate, and returns each caller's result and error.
func gatedRun(t *testing.T, c *redisstore.Coalescer[int, int], g *gatedCall, n int) ([]int, []error) {
	t.Helper()
	res, errs := make([]int, n), make([]error, n)
	var wg sync.WaitGroup
	wg.Go(func() { res[0], errs[0] = c.Do(context.Background(), 0) })
	<-g.entered
	for i := 1; i < n; i++ {
		wg.Go(func() { res[i], errs[i] = c.Do(context.Background(), i) })
	}
	waitFor(t, "the callers to queue", func() bool { return redisstore.Queued(c) == n-1 })
	close(g.open)
	wg.Wait()
	return res, errs
}

// Everything that queued while a call was in flight goes in the next call,
// in one piece, and each caller gets its own answer.
func TestCoalescerMergesTheQueue(t *testing.T) {
	g := newGatedCall()
	c := redisstore.NewCoalescer(redisstore.CoalesceOptions{}, g.run)
	res, errs := gatedRun(t, c, g, 64)
	for i := range res {
		if errs[i] != nil || res[i] != 10*i {
			t.Errorf("caller %d got %d, %v; want %d", i, res[i], errs[i], 10*i)
		}
	}
	if s := c.Stats(); s.Calls != 2 || s.Requests != 64 || len(g.batches) != 2 || len(g.batches[1]) != 63 {
		t.Errorf("stats %+v, batch sizes %d and %d; want 2 calls, the second with 63 requests",
			s, len(g.batches[0]), len(g.batches[len(g.batches)-1]))
	}
}

// A failed call's error reaches each of its callers, and counts once.
func TestCoalescerErrorReachesEveryCaller(t *testing.T) {
	g := newGatedCall()
	g.fail = errors.New("boom")
	c := redisstore.NewCoalescer(redisstore.CoalesceOptions{}, g.run)
	_, errs := gatedRun(t, c, g, 16)
	for i, err := range errs {
		if !errors.Is(err, g.fail) {
			t.Errorf("caller %d got %v, want boom", i, err)
		}
	}
	if s := c.Stats(); s.Failed != 2 || s.Calls != 2 {
		t.Errorf("stats %+v; want 2 calls, each failed once", s)
	}
}

// A caller whose deadline passes while a call is stuck returns at once
// with its context's error; once every caller left, the call is cancelled.
func TestCoalescerCallerDeadline(t *testing.T) {
	var cancelled atomic.Bool
	c := redisstore.NewCoalescer(redisstore.CoalesceOptions{}, func(ctx context.Context, xs []int) ([]int, error) {
		<-ctx.Done() // stuck until cancelled
		cancelled.Store(true)
		return nil, ctx.Err()
	})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if _, err := c.Do(ctx, i); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("caller %d: %v, want its deadline", i, err)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("callers with a 20ms deadline took %v", took)
	}
	waitFor(t, "the call to be cancelled", cancelled.Load)
}

// A call that ignores its context is abandoned at the Coalescer's timeout:
// its callers get a deadline error, and the requests queued behind it go
// in the next call rather than wait for it.
func TestCoalescerAbandonsAStuckCall(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	var calls atomic.Int64
	c := redisstore.NewCoalescer(redisstore.CoalesceOptions{Timeout: 50 * time.Millisecond},
		func(ctx context.Context, xs []int) ([]int, error) {
			if calls.Add(1) == 1 {
				<-stuck // ignores ctx
			}
			return xs, nil
		})
	first := make(chan error, 1)
	go func() { _, err := c.Do(context.Background(), 1); first <- err }()
	waitFor(t, "the first call", func() bool { return calls.Load() == 1 })
	if got, err := c.Do(context.Background(), 2); err != nil || got != 2 {
		t.Errorf("queued caller got %d, %v; want 2", got, err)
	}
	if err := <-first; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller of the stuck call got %v, want a deadline error", err)
	}
	if s := c.Stats(); s.Abandoned != 1 {
		t.Errorf("stats %+v, want 1 abandoned call", s)
	}
}

// A call's deadline is its callers' latest, and there is none when a caller
// has none (and no Timeout is set).
func TestCoalescerCallDeadline(t *testing.T) {
	var got []time.Time
	g := newGatedCall()
	c := redisstore.NewCoalescer(redisstore.CoalesceOptions{}, func(ctx context.Context, xs []int) ([]int, error) {
		d, _ := ctx.Deadline()
		got = append(got, d)
		return g.run(ctx, xs)
	})
	late := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	do := func(d time.Time) {
		ctx, cancel := context.WithDeadline(context.Background(), d)
		defer cancel()
		_, _ = c.Do(ctx, 1) // its result is asserted through the gate
	}
	wg.Go(func() { _, _ = c.Do(context.Background(), 0) })
	<-g.entered
	wg.Go(func() { do(late.Add(-time.Minute)) })
	wg.Go(func() { do(late) })
	waitFor(t, "the callers to queue", func() bool { return redisstore.Queued(c) == 2 })
	close(g.open)
	wg.Wait()
	if len(got) != 2 || !got[0].IsZero() || !got[1].Equal(late) {
		t.Errorf("call deadlines %v; want none, then the latest caller's %v", got, late)
	}
}

type valueKey struct{}

// A call carries the values of its first caller (such as the request's
// cost meter), not its cancellation.
func TestCoalescerCallCarriesFirstCallersValues(t *testing.T) {
	var got []any
	g := newGatedCall()
	c := redisstore.NewCoalescer(redisstore.CoalesceOptions{}, func(ctx context.Context, xs []int) ([]int, error) {
		got = append(got, ctx.Value(valueKey{}))
		return g.run(ctx, xs)
	})
	first, cancel := context.WithCancel(context.WithValue(context.Background(), valueKey{}, "first"))
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = c.Do(first, 0) })
	<-g.entered
	for i := 1; i < 4; i++ {
		wg.Go(func() { _, _ = c.Do(context.WithValue(context.Background(), valueKey{}, "queued"), i) })
	}
	waitFor(t, "the callers to queue", func() bool { return redisstore.Queued(c) == 3 })
	cancel() // the first caller leaves; its call goes on for nobody
	close(g.open)
	wg.Wait()
	if !slices.Equal(got, []any{"first", "queued"}) {
		t.Errorf("calls carried %v; want the first caller's value, then a queued caller's", got)
	}
}
