package views_test

import (
	"context"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/views"
)

// A display count is made from an SQL snapshot plus what Redis holds, while
// flushes move views from Redis into SQL. These tests put each step of a
// flush at the worst moment of that initialization and check that the count
// holds every view exactly once.

// hookSQL runs before once, just before the next ViewLogBase (the snapshot).
type hookSQL struct {
	views.SQL
	before func()
}

func (h *hookSQL) ViewLogBase(ctx context.Context, ids []int64) (map[int64]int64, store.LogPos, error) {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.SQL.ViewLogBase(ctx, ids)
}

// hookRedis runs beforeInit once, just before the next Init.
type hookRedis struct {
	views.Redis
	beforeInit func()
}

func (h *hookRedis) Init(ctx context.Context, gen string, ids, bases []int64, applied store.LogPos) ([]int64, error) {
	if f := h.beforeInit; f != nil {
		h.beforeInit = nil
		f()
	}
	return h.Redis.Init(ctx, gen, ids, bases, applied)
}

// initRace sets up product 1 with 5 views in Redis's log and no display
// count, a writer (another instance) and a reader whose SQL snapshot and
// Init can be preceded by a hook. It returns the hits SQL had before.
func initRace(t *testing.T) (f *fixture, writer, reader *instance, sqlHook *hookSQL, redisHook *hookRedis, base int64) {
	f = newFixture(t, sqlstore.SQLite, 3)
	base = f.sqlHits(t, 1)[1]
	writer = f.instance(t, instanceOptions{})
	sqlHook, redisHook = &hookSQL{}, &hookRedis{}
	reader = f.instance(t, instanceOptions{
		sql:  func(s views.SQL) views.SQL { sqlHook.SQL = s; return sqlHook },
		wrap: func(r views.Redis) views.Redis { redisHook.Redis = r; return redisHook },
	})
	for range 5 {
		if _, _, err := writer.rv.Record(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	return f, writer, reader, sqlHook, redisHook, base
}

func hitsOf1(t *testing.T, in *instance) int64 {
	t.Helper()
	hits, err := in.Hits(context.Background(), []int64{1})
	if err != nil {
		t.Fatal(err)
	}
	return hits[1]
}

// A whole flush (read, commit, trim) between the read and the SQL
// snapshot: the snapshot holds the views and Redis no longer does; the
// generation moved, so the reader reads again rather than trust its stale
// read.
func TestInitWithFlushBeforeSnapshot(t *testing.T) {
	_, writer, reader, sqlHook, _, base := initRace(t)
	sqlHook.before = func() {
		if err := writer.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
}

// Entries committed and not trimmed (the flusher crashed) before the
// snapshot: the snapshot's position covers them, so their views, still in
// Redis, are not added again. The next flush finds Redis's token one behind
// SQL's, which is a trim not done, not a rewind: it repairs nothing and
// applies nothing twice.
func TestInitWithCommittedUntrimmedEntries(t *testing.T) {
	f, writer, reader, sqlHook, _, base := initRace(t)
	ctx := context.Background()
	sqlHook.before = func() { commit(t, writer) }
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
	for range 2 {
		if err := reader.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := reader.Stats(); s.Rewinds != 0 || s.Recovered != 0 || s.Applied != 0 || f.sqlHits(t, 1)[1] != base+5 {
		t.Errorf("after two flushes: stats %+v, SQL hits %d; want no repair, nothing recovered or applied, and %d",
			s, f.sqlHits(t, 1)[1], base+5)
	}
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits after the repair = %d, want %d", got, base+5)
	}
}

// Entries committed after the snapshot, before the Init: the snapshot does
// not hold them, so their views are taken from the log, which still has
// them (a trim would have moved the generation).
func TestInitWithCommitAfterSnapshot(t *testing.T) {
	f, writer, reader, _, redisHook, base := initRace(t)
	redisHook.beforeInit = func() { commit(t, writer) }
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
	if got := f.sqlHits(t, 1)[1]; got != base+5 {
		t.Errorf("SQL hits = %d, want %d", got, base+5)
	}
}

// Committed and trimmed after the snapshot, before the Init: neither the
// snapshot nor Redis holds the views any more. Init refuses (the generation
// moved) and the reader reads again.
func TestInitWithTrimAfterSnapshot(t *testing.T) {
	_, writer, reader, _, redisHook, base := initRace(t)
	redisHook.beforeInit = func() {
		next, views := commit(t, writer)
		if err := writer.rv.TrimLog(context.Background(), next.Applied, next.Token, views); err != nil {
			t.Fatal(err)
		}
	}
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
}

// commit is a flush that stops before its trim: it applies the log after
// SQL's position and returns SQL's new state and the views applied.
func commit(t *testing.T, in *instance) (store.ViewLogState, int64) {
	t.Helper()
	ctx := context.Background()
	state, err := in.db.ViewLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := in.rv.ReadLog(ctx, state.Applied, 100)
	if err != nil || len(r.Entries) == 0 {
		t.Fatalf("log after %v = %+v, %v", state.Applied, r, err)
	}
	next := store.ViewLogState{Applied: r.Through, Token: sqlstore.NewViewLogToken()}
	if ok, err := in.db.ApplyViewLog(ctx, state, next, r.Views, nil); err != nil || !ok {
		t.Fatalf("apply = %v, %v", ok, err)
	}
	var views int64
	for _, n := range r.Views {
		views += n
	}
	return next, views
}
