package loaders

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// fakeStore records every call and its keys.
type fakeStore struct {
	mu       sync.Mutex
	calls    [][]int64
	products map[int64]*store.Product
	err      error
}

func (s *fakeStore) record(ids []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, slices.Clone(ids))
}

// Documents serves products and records their reads; it has no row of
// another kind.
func (s *fakeStore) Documents(_ context.Context, kind store.Kind, ids []int64) (map[int64]store.Document, error) {
	out := map[int64]store.Document{}
	if kind != store.ProductKind {
		return out, nil
	}
	s.record(ids)
	if s.err != nil {
		return nil, s.err
	}
	for _, id := range ids {
		if p, ok := s.products[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

func (s *fakeStore) CategoriesWithParents(context.Context, []int64) (map[int64]*store.Category, error) {
	return nil, nil
}

func (s *fakeStore) ProductOptions(context.Context, []int64) (map[int64][]store.Option, error) {
	return nil, nil
}

func (s *fakeStore) Stock(context.Context, []int64) (map[int64]int64, error) { return nil, nil }

// fakeCache is an in-memory Cache that records its calls.
type fakeCache struct {
	mu      sync.Mutex
	entries map[int64]redisstore.Entry
	gets    [][]int64
	puts    [][]redisstore.Fill
	getErr  error
}

func (c *fakeCache) Get(_ context.Context, _ store.Kind, ids []int64) ([]redisstore.Entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets = append(c.gets, slices.Clone(ids))
	if c.getErr != nil {
		return nil, c.getErr
	}
	out := make([]redisstore.Entry, len(ids))
	for i, id := range ids {
		out[i] = c.entries[id]
	}
	return out, nil
}

// Read is Get with every miss's lease granted.
func (c *fakeCache) Read(ctx context.Context, kind store.Kind, ids []int64, _ time.Duration) ([]redisstore.Entry, []redisstore.LeaseState, error) {
	entries, err := c.Get(ctx, kind, ids)
	if err != nil {
		return nil, nil, err
	}
	states := make([]redisstore.LeaseState, len(ids))
	for i, e := range entries {
		if e.State != redisstore.Hit && e.State != redisstore.Absent {
			states[i] = redisstore.Granted
		}
	}
	return entries, states, nil
}

func (c *fakeCache) PutKinds(_ context.Context, groups ...redisstore.KindFills) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		c.puts = append(c.puts, g.Fills)
		for _, f := range g.Fills {
			e := redisstore.Entry{State: redisstore.Hit, Version: f.Version, Data: f.Data}
			if f.Absent {
				e = redisstore.Entry{State: redisstore.Absent}
			}
			c.entries[f.ID] = e
		}
	}
	return nil
}

func product(id int64) *store.Product {
	return &store.Product{ID: id, Name: "p", Version: 1, Images: []store.Image{}, Tags: []string{}}
}

func hit(t *testing.T, p *store.Product) redisstore.Entry {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return redisstore.Entry{State: redisstore.Hit, Version: p.Version, Data: b}
}

func newBatch(s *fakeStore, c *fakeCache) *cached {
	opt := Options{Store: s}
	if c != nil {
		opt.Cache = c
	}
	return &cached{f: NewFactory(opt), kind: store.ProductKind}
}

func ids(results []store.Document) []int64 {
	out := make([]int64, len(results))
	for i, p := range results {
		if p != nil {
			out[i] = p.Ref().ID
		}
	}
	return out
}

func TestBatchReadsOnlyMissesFromSQL(t *testing.T) {
	s := &fakeStore{products: map[int64]*store.Product{1: product(1), 2: product(2), 3: product(3)}}
	c := &fakeCache{entries: map[int64]redisstore.Entry{
		1: hit(t, product(1)),
		4: {State: redisstore.Absent},
		5: {State: redisstore.Corrupt},
	}}
	res := newBatch(s, c).batch(context.Background(), []int64{3, 1, 4, 2, 3, 5})

	var got []store.Document
	for _, r := range res {
		if r.Error != nil {
			t.Fatalf("unexpected error %v", r.Error)
		}
		got = append(got, r.Data)
	}
	if want := []int64{3, 1, 0, 2, 3, 0}; !slices.Equal(ids(got), want) {
		t.Errorf("results = %v, want %v (key order, duplicates, nil for absent)", ids(got), want)
	}
	if want := [][]int64{{3, 1, 4, 2, 5}}; !slices.EqualFunc(c.gets, want, slices.Equal) {
		t.Errorf("cache gets = %v, want one of the distinct keys %v", c.gets, want)
	}
	if want := [][]int64{{3, 2, 5}}; !slices.EqualFunc(s.calls, want, slices.Equal) {
		t.Errorf("SQL fetches = %v, want one fetch of the misses %v", s.calls, want)
	}
	if len(c.puts) != 1 || len(c.puts[0]) != 3 || !c.puts[0][2].Absent {
		t.Errorf("write-backs = %+v, want one of 3 fills, 5 negative", c.puts)
	}
}

func TestBatchAllHitsSkipsSQL(t *testing.T) {
	s := &fakeStore{}
	c := &fakeCache{entries: map[int64]redisstore.Entry{1: hit(t, product(1)), 2: {State: redisstore.Absent}}}
	newBatch(s, c).batch(context.Background(), []int64{1, 2})
	if len(s.calls) != 0 || len(c.puts) != 0 {
		t.Errorf("all hits: %d SQL fetches and %d write-backs, want none", len(s.calls), len(c.puts))
	}
}

func TestBatchCacheDownReadsSQLAndSkipsWriteBack(t *testing.T) {
	s := &fakeStore{products: map[int64]*store.Product{1: product(1)}}
	c := &fakeCache{entries: map[int64]redisstore.Entry{}, getErr: errors.New("connection refused")}
	res := newBatch(s, c).batch(context.Background(), []int64{1, 2})
	if res[0].Error != nil || res[0].Data == nil || res[1].Error != nil || res[1].Data != nil {
		t.Errorf("results = %+v %+v, want product 1 and nil", res[0], res[1])
	}
	if len(s.calls) != 1 || len(c.puts) != 0 {
		t.Errorf("cache down: %d SQL fetches and %d write-backs, want 1 and 0", len(s.calls), len(c.puts))
	}
}

func TestBatchNoCache(t *testing.T) {
	s := &fakeStore{products: map[int64]*store.Product{1: product(1)}}
	res := newBatch(s, nil).batch(context.Background(), []int64{1, 1})
	if len(s.calls) != 1 || !slices.Equal(s.calls[0], []int64{1}) || res[1].Data == nil {
		t.Errorf("no cache: SQL fetches %v, want one of [1]", s.calls)
	}
}

// A SQL failure fails only the keys SQL had to answer.
func TestBatchSQLErrorFailsOnlyMisses(t *testing.T) {
	s := &fakeStore{err: errors.New("db down")}
	c := &fakeCache{entries: map[int64]redisstore.Entry{1: hit(t, product(1))}}
	res := newBatch(s, c).batch(context.Background(), []int64{1, 2, 1})
	if res[0].Error != nil || res[2].Error != nil || res[0].Data == nil {
		t.Errorf("cached key failed: %+v", res[0])
	}
	if res[1].Error == nil {
		t.Errorf("missed key has no error")
	}
	if len(c.puts) != 0 {
		t.Errorf("a failed fetch wrote back %v", c.puts)
	}
}

// Loads made concurrently within the window reach the batch function once.
func TestLoaderBatchesConcurrentLoads(t *testing.T) {
	s := &fakeStore{products: map[int64]*store.Product{1: product(1), 2: product(2)}}
	f := NewFactory(Options{Store: s, Wait: 20e6})
	l := f.New()
	ctx := context.Background()
	dl := l.loader(store.ProductKind)
	t1, t2, t3 := dl.Load(ctx, 1), dl.Load(ctx, 2), dl.Load(ctx, 1)
	for _, th := range []func() (store.Document, error){t1, t2, t3} {
		if _, err := th(); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.calls) != 1 || !slices.Equal(s.calls[0], []int64{1, 2}) {
		t.Errorf("fetches = %v, want one batch [1 2]", s.calls)
	}
}

// fakeHits records every call to the view counter and its keys.
type fakeHits struct {
	mu    sync.Mutex
	calls [][]int64
}

func (h *fakeHits) Hits(_ context.Context, ids []int64) (map[int64]int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, slices.Clone(ids))
	out := map[int64]int64{}
	for _, id := range ids {
		if id != 404 {
			out[id] = id * 10
		}
	}
	return out, nil
}

// The hits of one query level are one call to the view counter, for the
// distinct ids; a product the counter does not know has 0.
func TestHitsLoaderBatches(t *testing.T) {
	h := &fakeHits{}
	l := NewFactory(Options{Store: &fakeStore{}, Hits: h, Wait: 20e6}).New()
	ctx := context.Background()
	thunks := []func() (int64, error){l.Hits.Load(ctx, 1), l.Hits.Load(ctx, 404), l.Hits.Load(ctx, 2), l.Hits.Load(ctx, 1)}
	var got []int64
	for _, th := range thunks {
		n, err := th()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if want := []int64{10, 0, 20, 10}; !slices.Equal(got, want) {
		t.Errorf("hits = %v, want %v", got, want)
	}
	if want := [][]int64{{1, 404, 2}}; !slices.EqualFunc(h.calls, want, slices.Equal) {
		t.Errorf("calls = %v, want one of the distinct ids %v", h.calls, want)
	}
}
