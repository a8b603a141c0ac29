package loaders

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// recordingObserver keeps what it is told.
type recordingObserver struct {
	mu      sync.Mutex
	batches map[string][]int    // loader → key count of each batch
	reads   map[CacheResult]int // result → keys
	ended   int                 // batches ended
}

type batchMark struct{}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{batches: map[string][]int{}, reads: map[CacheResult]int{}}
}

func (o *recordingObserver) StartBatch(ctx context.Context, loader string, keys int) (context.Context, func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches[loader] = append(o.batches[loader], keys)
	return context.WithValue(ctx, batchMark{}, loader), func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.ended++
	}
}

func (o *recordingObserver) CacheRead(_ context.Context, kind store.Kind, r CacheResult, keys int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if kind == "product" {
		o.reads[r] += keys
	}
}

// ctxStore is a fakeStore that records whether it ran under a batch's
// context.
type ctxStore struct {
	fakeStore
	underBatch bool
}

func (s *ctxStore) Documents(ctx context.Context, kind store.Kind, ids []int64) (map[int64]store.Document, error) {
	s.underBatch = ctx.Value(batchMark{}) == "product"
	return s.fakeStore.Documents(ctx, kind, ids)
}

// The observer hears of each batch, with its key count, and of each key's
// cache result; the batch runs under the context the observer returned.
func TestObserverSeesBatchesAndCacheResults(t *testing.T) {
	s := &ctxStore{fakeStore: fakeStore{products: map[int64]*store.Product{1: product(1), 2: product(2)}}}
	c := &fakeCache{entries: map[int64]redisstore.Entry{
		1: hit(t, product(1)),
		4: {State: redisstore.Absent},
		5: {State: redisstore.Corrupt},
		6: {State: redisstore.Hit, Version: 1, Data: []byte("{not json")},
		7: {State: redisstore.Invalidated, Version: 3},
	}}
	obs := newRecordingObserver()
	l := NewFactory(Options{Store: s, Cache: c, Observer: obs, Wait: 20e6}).New()
	ctx := context.Background()
	var thunks []func() (store.Document, error)
	for _, id := range []int64{1, 2, 3, 4, 5, 6, 7, 1} {
		thunks = append(thunks, l.loader(store.ProductKind).Load(ctx, id))
	}
	for _, th := range thunks {
		if _, err := th(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[CacheResult]int{CacheHit: 1, CacheNegative: 1, CacheMiss: 3, CacheCorrupt: 2}
	if !maps.Equal(obs.reads, want) {
		t.Errorf("cache results = %v, want %v", obs.reads, want)
	}
	if b := obs.batches["product"]; len(b) != 1 || b[0] != 7 || obs.ended != 1 {
		t.Errorf("batches = %v, %d ended; want one product batch of 7 keys, ended", obs.batches, obs.ended)
	}
	if !s.underBatch {
		t.Error("the batch did not run under the observer's context")
	}
}

// A cache that fails reports every key unavailable.
func TestObserverSeesCacheUnavailable(t *testing.T) {
	obs := newRecordingObserver()
	c := &fakeCache{entries: map[int64]redisstore.Entry{}, getErr: errors.New("connection refused")}
	f := NewFactory(Options{Store: &fakeStore{}, Cache: c, Observer: obs})
	b := &cached{f: f, kind: store.ProductKind}
	b.batch(context.Background(), []int64{1, 2, 2})
	if want := map[CacheResult]int{CacheUnavailable: 2}; !maps.Equal(obs.reads, want) {
		t.Errorf("cache results = %v, want %v", obs.reads, want)
	}
}
