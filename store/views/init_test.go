package views_test

import (
	"context"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/views"
)

// A display count is made from an SQL snapshot plus what Redis holds, while
// flushes move views from Redis into SQL. These tests put each step of a
// flush at the worst moment of that initialization and check that the count
// holds every view exactly once.

// hookSQL runs before once, just before the next ViewBase (the snapshot).
type hookSQL struct {
	views.SQL
	before func()
}

func (h *hookSQL) ViewBase(ctx context.Context, ids []int64, batchIDs []string) (map[int64]int64, map[string]bool, error) {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.SQL.ViewBase(ctx, ids, batchIDs)
}

// hookRedis runs beforeInit once, just before the next Init.
type hookRedis struct {
	views.Redis
	beforeInit func()
}

func (h *hookRedis) Init(ctx context.Context, gen string, ids, bases []int64, unapplied []string) ([]int64, error) {
	if f := h.beforeInit; f != nil {
		h.beforeInit = nil
		f()
	}
	return h.Redis.Init(ctx, gen, ids, bases, unapplied)
}

// initRace sets up product 1 with 5 views pending in Redis and no display
// count, a writer (another instance) and a reader whose SQL snapshot and
// Init can be preceded by a hook. It returns the hits SQL had before.
func initRace(t *testing.T) (f *fixture, writer, reader *instance, sqlHook *hookSQL, redisHook *hookRedis, base int64) {
	f = newFixture(t, store.SQLite, 3)
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

// A whole flush (claim, commit, ack) between the read and the SQL snapshot:
// the snapshot holds the views and Redis no longer does; the generation
// moved, so the reader reads again rather than trust its stale read.
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

// A batch claimed and committed but not acknowledged (the flusher crashed)
// before the snapshot: the snapshot records the batch as applied, so its
// views, still in Redis, are not added again.
func TestInitWithCommittedUnacknowledgedBatch(t *testing.T) {
	f, writer, reader, sqlHook, _, base := initRace(t)
	ctx := context.Background()
	sqlHook.before = func() { claimAndCommit(t, writer, "crashed-before-ack") }
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
	// The next flush re-applies the batch: a no-op, then acknowledged.
	if err := reader.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s := reader.Stats(); s.Replayed != 1 || f.sqlHits(t, 1)[1] != base+5 {
		t.Errorf("after the re-apply: stats %+v, SQL hits %d; want 1 replay and %d", s, f.sqlHits(t, 1)[1], base+5)
	}
}

// A batch claimed before the read and committed after the snapshot, before
// the Init: the snapshot does not hold it, so its views are taken from the
// batch, which Redis still has (an ack would have moved the generation).
func TestInitWithCommitAfterSnapshot(t *testing.T) {
	f, writer, reader, _, redisHook, base := initRace(t)
	ctx := context.Background()
	if _, err := writer.rv.Claim(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	redisHook.beforeInit = func() { commit(t, writer, "late") }
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
	if got := f.sqlHits(t, 1)[1]; got != base+5 {
		t.Errorf("SQL hits = %d, want %d", got, base+5)
	}
}

// Committed and acknowledged after the snapshot, before the Init: neither
// the snapshot nor Redis holds the views any more. Init refuses (the
// generation moved) and the reader reads again.
func TestInitWithAckAfterSnapshot(t *testing.T) {
	_, writer, reader, _, redisHook, base := initRace(t)
	ctx := context.Background()
	if _, err := writer.rv.Claim(ctx, "acked"); err != nil {
		t.Fatal(err)
	}
	redisHook.beforeInit = func() {
		commit(t, writer, "acked")
		if err := writer.rv.Ack(ctx, "acked"); err != nil {
			t.Fatal(err)
		}
	}
	if got := hitsOf1(t, reader); got != base+5 {
		t.Errorf("hits = %d, want %d", got, base+5)
	}
}

// claimAndCommit is a flush that stops before its ack.
func claimAndCommit(t *testing.T, in *instance, batchID string) {
	t.Helper()
	if _, err := in.rv.Claim(context.Background(), batchID); err != nil {
		t.Fatal(err)
	}
	commit(t, in, batchID)
}

// commit applies a claimed batch to SQL.
func commit(t *testing.T, in *instance, batchID string) {
	t.Helper()
	ctx := context.Background()
	views, err := in.rv.Batch(ctx, batchID)
	if err != nil || len(views) == 0 {
		t.Fatalf("batch %s = %v, %v", batchID, views, err)
	}
	if _, err := in.db.ApplyViews(ctx, store.ViewBatch{ID: batchID, Deltas: views}); err != nil {
		t.Fatal(err)
	}
}
