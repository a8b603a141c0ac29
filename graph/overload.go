package graph

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// CodeOverloaded is the code of a request refused because the service
// already works on as many requests as it may (503, with Retry-After).
const CodeOverloaded = "OVERLOADED"

// OverloadOptions configures LimitInflight.
type OverloadOptions struct {
	// MaxInflight is how many requests may be worked on at once; 0 or less
	// for no bound.
	MaxInflight int
	// MaxQueue is how many requests may wait for a place once all are
	// taken; a request past it is refused at once. 0: none waits.
	MaxQueue int
	// MaxWait is the most a waiting request waits for a place before it
	// is refused.
	MaxWait time.Duration
	// RetryAfter is sent, in whole seconds, in the Retry-After header of a
	// refusal. Default 1 s.
	RetryAfter time.Duration
	// OnRefuse, when set, is called once for each refused request, e.g. to
	// count it.
	OnRefuse func()
}

// LimitInflight bounds the requests next works on at once. A request that
// finds every place taken joins a short queue, if fewer than opt.MaxQueue
// wait already, and waits at most opt.MaxWait for a place; otherwise, or
// once that wait is over, it gets HTTP 503 with a Retry-After header and a
// GraphQL error of code OVERLOADED, without next reading its body. CORS
// preflights (OPTIONS) pass freely: they cost next nothing.
//
// Refusing at the edge keeps the requests that are admitted as fast as
// they are at capacity. Admitting all of a spike instead lets every
// request slow down together, until their Redis calls outlive their
// deadline, the circuit breaker opens, and every page is read from SQL:
// more work per request at the moment there is least room for it. The
// queue absorbs what is not a spike: clients that keep a few more
// requests in flight than there are places, or a burst, wait a few
// milliseconds instead of being refused.
//
// With opt.MaxInflight ≤ 0 it returns next. It is safe for concurrent use.
func LimitInflight(opt OverloadOptions, next http.Handler) http.Handler {
	if opt.MaxInflight <= 0 {
		return next
	}
	if opt.RetryAfter < time.Second {
		opt.RetryAfter = time.Second
	}
	retryAfter := strconv.Itoa(int(opt.RetryAfter / time.Second))
	l := &inflight{places: make(chan struct{}, opt.MaxInflight), maxQueue: int64(opt.MaxQueue), maxWait: opt.MaxWait}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if !l.enter() {
			if opt.OnRefuse != nil {
				opt.OnRefuse()
			}
			w.Header().Set("Retry-After", retryAfter)
			writeError(w, http.StatusServiceUnavailable, CodeOverloaded,
				"the service is at capacity; retry after "+retryAfter+" s")
			return
		}
		defer func() { <-l.places }()
		next.ServeHTTP(w, r)
	})
}

// inflight is LimitInflight's places and queue.
type inflight struct {
	places   chan struct{}
	waiting  atomic.Int64
	maxQueue int64
	maxWait  time.Duration
}

// enter takes a place, at once or after a wait in the queue; it reports
// whether it got one.
func (l *inflight) enter() bool {
	select {
	case l.places <- struct{}{}:
		return true
	default:
	}
	defer l.waiting.Add(-1)
	if l.waiting.Add(1) > l.maxQueue || l.maxWait <= 0 {
		return false
	}
	t := time.NewTimer(l.maxWait)
	defer t.Stop()
	select {
	case l.places <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
