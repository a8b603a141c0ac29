package views_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
	"catalog-bff/store/views"
)

// unreachable is a database that refuses every write while down is set.
type unreachable struct {
	views.SQL
	down *atomic.Bool
}

func (u unreachable) ApplyViews(ctx context.Context, b sqlstore.ViewBatch) (bool, error) {
	if u.down.Load() {
		return false, errors.New("connection refused")
	}
	return u.SQL.ApplyViews(ctx, b)
}

// Views counted in process (no Redis) when the process stops with the
// database unreachable: the drain retries until its deadline, then writes
// them to the spill file; the next process applies the file first, exactly
// once, and a third start (the file applied again, as after a crash before
// its removal) counts nothing twice.
func TestViewsSpilledAtStopAndReplayed(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		f := newFixture(t, d, 20)
		spill := filepath.Join(t.TempDir(), "views.spill.json")
		var down atomic.Bool
		before := f.sqlHits(t, ids(20)...)
		start := func(sql views.SQL) (*views.Counter, func()) {
			c := views.New(views.Options{SQL: sql, FlushInterval: time.Hour, DrainTimeout: time.Second,
				FlushTimeout: 200 * time.Millisecond, SpillFile: spill, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { c.Run(ctx); close(done) }()
			return c, func() { cancel(); <-done }
		}
		c, stop := start(unreachable{f.open(t), &down})
		time.Sleep(50 * time.Millisecond) // the start's flush, with the database up
		down.Store(true)
		var acked int64
		for i := range 300 {
			if _, err := c.Record(context.Background(), int64(1+i%20)); err != nil {
				t.Fatal(err)
			}
			acked++
		}
		stop()
		if c.Lost() != 0 {
			t.Fatalf("%d views lost with a spill file configured", c.Lost())
		}
		if _, err := os.Stat(spill); err != nil {
			t.Fatalf("no spill file after a stop with the database unreachable: %v", err)
		}
		if got := sum(f.sqlHits(t, ids(20)...)) - sum(before); got != 0 {
			t.Fatalf("SQL took %d views while unreachable", got)
		}
		kept, err := os.ReadFile(spill)
		if err != nil {
			t.Fatal(err)
		}
		down.Store(false)
		_, stop = start(f.open(t))
		stop()
		if got := sum(f.sqlHits(t, ids(20)...)) - sum(before); got != acked {
			t.Errorf("after the replay SQL holds %d new views, %d were acknowledged", got, acked)
		}
		if _, err := os.Stat(spill); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the spill file is still there after its replay: %v", err)
		}
		if err := os.WriteFile(spill, kept, 0o600); err != nil { // as if the process died before removing it
			t.Fatal(err)
		}
		_, stop = start(f.open(t))
		stop()
		if got := sum(f.sqlHits(t, ids(20)...)) - sum(before); got != acked {
			t.Errorf("after a second replay SQL holds %d new views, %d were acknowledged", got, acked)
		}
	})
}

// Without a spill file, views SQL did not take are counted as lost, for
// the process to exit non-zero.
func TestViewsLostWithoutSpillFile(t *testing.T) {
	f := newFixture(t, sqlstore.SQLite, 5)
	down := &atomic.Bool{}
	down.Store(true)
	c := views.New(views.Options{SQL: unreachable{f.open(t), down}, FlushInterval: time.Hour, DrainTimeout: time.Second,
		FlushTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for range 7 {
		if _, err := c.Record(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Run(ctx)
	if c.Lost() != 7 {
		t.Errorf("Lost() = %d, want the 7 views SQL did not take", c.Lost())
	}
}

func sum(m map[int64]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
