package sqlstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// recorder is a sqlstore.Observer that keeps what it was told.
type recorder struct {
	mu    sync.Mutex
	seen  []string // Op of each statement, in order of start
	ended []error  // the error each statement ended with, in order of end
}

func (r *recorder) StartStatement(ctx context.Context, s sqlstore.Statement) (context.Context, func(error)) {
	r.mu.Lock()
	r.seen = append(r.seen, s.Op)
	r.mu.Unlock()
	return ctx, func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ended = append(r.ended, err)
	}
}

var _ sqlstore.Observer = (*recorder)(nil)

// The observer hears of every statement, by the same count as Statements,
// and of its outcome: no row is no error, a timeout is one.
func TestObserverSeesEveryStatement(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := storetest.MustOpen(t, d)
			if err := db.Seed(context.Background(), sqlstore.SeedOptions{Products: 5, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			db.SetObserver(rec)
			before := db.Statements()
			if _, err := db.Products(context.Background(), []int64{1, 2, 999}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Products(context.Background(), []int64{999}); err != nil {
				t.Fatal(err)
			}
			want := []string{"SELECT products", "SELECT products"}
			if got := db.Statements() - before; got != int64(len(want)) || !slices.Equal(rec.seen, want) {
				t.Fatalf("observed %v for %d statements; want %v", rec.seen, got, want)
			}
			for i, err := range rec.ended {
				if err != nil {
					t.Errorf("statement %d ended with %v; want nil", i, err)
				}
			}
			db.SetStatementTimeout(time.Nanosecond)
			_, err := db.Products(context.Background(), []int64{1})
			if err == nil || len(rec.ended) != 3 || rec.ended[2] == nil {
				t.Errorf("a timed-out statement: err %v, observed %v; want both an error", err, rec.ended)
			}
		})
	}
}
