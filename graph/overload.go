package graph

import (
	"net/http"
	"strconv"
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
	// MaxWait is the most a request waits for a place once all are taken
	// before it is refused. Default 0: refused at once.
	MaxWait time.Duration
	// RetryAfter is sent, in whole seconds, in the Retry-After header of a
	// refusal. Default 1 s.
	RetryAfter time.Duration
	// OnRefuse, when set, is called once for each refused request, e.g. to
	// count it.
	OnRefuse func()
}

// LimitInflight bounds the requests next works on at once. A request that
// finds every place taken waits at most opt.MaxWait for one, then gets
// HTTP 503 with a Retry-After header and a GraphQL error of code
// OVERLOADED, without reading its body; no queue forms beyond those short
// waits. CORS preflights (OPTIONS) pass freely: they cost next nothing.
//
// Refusing at the edge keeps the requests that are admitted as fast as
// they are at capacity. Admitting all of a spike instead lets every
// request slow down together, until their Redis calls outlive their
// deadline, the circuit breaker opens, and every page is read from SQL:
// more work per request at the moment there is least room for it.
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
	places := make(chan struct{}, opt.MaxInflight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if !enter(places, opt.MaxWait) {
			if opt.OnRefuse != nil {
				opt.OnRefuse()
			}
			w.Header().Set("Retry-After", retryAfter)
			writeError(w, http.StatusServiceUnavailable, CodeOverloaded,
				"the service is at capacity; retry after "+retryAfter+" s")
			return
		}
		defer func() { <-places }()
		next.ServeHTTP(w, r)
	})
}

// enter takes a place, waiting at most wait for one; it reports whether it
// got one.
func enter(places chan struct{}, wait time.Duration) bool {
	select {
	case places <- struct{}{}:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case places <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
