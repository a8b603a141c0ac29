package graph_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/graph"
)

// blocking is a handler that holds each request until release is closed,
// and records how many it held at once.
type blocking struct {
	entered      chan struct{}
	release      chan struct{}
	inside, peak atomic.Int64
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := b.inside.Add(1)
	for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
	}
	b.entered <- struct{}{}
	<-b.release
	b.inside.Add(-1)
	w.WriteHeader(http.StatusOK)
}

func post(h http.Handler, method string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, "/query", strings.NewReader(`{"query":"{ __typename }"}`)))
	return w
}

// Past MaxInflight a request is refused at once with 503, Retry-After and
// a GraphQL error coded OVERLOADED, and counted; preflights pass; once a
// place is free, requests are served again.
func TestLimitInflightRefusesPastTheBound(t *testing.T) {
	next := newBlocking()
	var refused atomic.Int64
	h := graph.LimitInflight(graph.OverloadOptions{MaxInflight: 2, OnRefuse: func() { refused.Add(1) }}, next)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { post(h, http.MethodPost) })
		<-next.entered
	}
	w := post(h, http.MethodPost)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("third request: %d, Retry-After %q; want 503 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	var body struct {
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 ||
		body.Errors[0].Extensions["code"] != graph.CodeOverloaded {
		t.Errorf("refusal body %s (%v), want one error coded %s", w.Body, err, graph.CodeOverloaded)
	}
	wg.Go(func() { post(h, http.MethodOptions) })
	<-next.entered // a preflight is not bounded
	close(next.release)
	wg.Wait()
	if w := post(h, http.MethodPost); w.Code != http.StatusOK {
		t.Errorf("after the others finished: %d, want 200", w.Code)
	}
	if refused.Load() != 1 {
		t.Errorf("%d refusals counted, want 1", refused.Load())
	}
}

// However many requests arrive at once, next never works on more than
// MaxInflight; each one is either served or refused.
func TestLimitInflightBoundsConcurrency(t *testing.T) {
	next := newBlocking()
	close(next.release)
	var refused atomic.Int64
	h := graph.LimitInflight(graph.OverloadOptions{MaxInflight: 4, OnRefuse: func() { refused.Add(1) }}, next)
	var served atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if post(h, http.MethodPost).Code == http.StatusOK {
				served.Add(1)
			}
		})
	}
	wg.Wait()
	if p := next.peak.Load(); p > 4 {
		t.Errorf("%d requests worked on at once, want at most 4", p)
	}
	if served.Load()+refused.Load() != 100 || served.Load() < 4 {
		t.Errorf("%d served and %d refused of 100", served.Load(), refused.Load())
	}
}

// A request that finds every place taken waits up to MaxWait for one, in a
// queue of MaxQueue; one past the queue is refused at once.
func TestLimitInflightQueue(t *testing.T) {
	next := newBlocking()
	var refused atomic.Int64
	h := graph.LimitInflight(graph.OverloadOptions{MaxInflight: 1, MaxQueue: 1, MaxWait: time.Minute,
		OnRefuse: func() { refused.Add(1) }}, next)
	var wg sync.WaitGroup
	wg.Go(func() { post(h, http.MethodPost) })
	<-next.entered
	// Two more: one waits in the queue, the other finds it full and is
	// refused at once, while the first still holds the only place.
	codes := make(chan int, 2)
	for range 2 {
		go func() { codes <- post(h, http.MethodPost).Code }()
	}
	select {
	case c := <-codes:
		if c != http.StatusServiceUnavailable || refused.Load() != 1 {
			t.Errorf("a request past the queue: %d, %d refused; want 503 and 1", c, refused.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no request was refused while the place and the queue were taken")
	}
	close(next.release)
	if c := <-codes; c != http.StatusOK {
		t.Errorf("the queued request: %d, want 200", c)
	}
	wg.Wait()
}

// No bound, no wrapper.
func TestLimitInflightOff(t *testing.T) {
	next := http.NotFoundHandler()
	if h := graph.LimitInflight(graph.OverloadOptions{}, next); h == nil || post(h, http.MethodPost).Code != http.StatusNotFound {
		t.Error("MaxInflight 0 changed the handler")
	}
}
