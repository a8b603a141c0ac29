package sqlstore_test

import (
	"context"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
)

// The view log's position moves only from where SQL holds it, with the
// views it covers, in one transaction: a second apply from the same place
// (a retry, another instance) changes nothing.
func TestApplyViewLogOnce(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db := mustSeed(t, d, sqlstore.SeedOptions{Products: 20, Seed: 1})
		ctx := context.Background()
		start, err := db.ViewLog(ctx)
		if err != nil || !start.Applied.IsZero() || start.Token != "" {
			t.Fatalf("fresh view log = %+v, %v; want position 0-0, no token", start, err)
		}
		before := hitsOf(t, db, 1, 2)
		next := store.ViewLogState{Applied: store.LogPos{Ms: 1700000000000, Seq: 3}, Token: "T1"}
		deltas := map[int64]int64{1: 4, 2: 1, 999: 7}
		s0, u0 := db.Statements(), db.Updates()
		applied, err := db.ApplyViewLog(ctx, start, next, deltas, nil)
		if err != nil || !applied {
			t.Fatalf("first apply = %v, %v", applied, err)
		}
		if s, u := db.Statements()-s0, db.Updates()-u0; s != 2 || u != 2 {
			t.Errorf("apply: %d statements, %d UPDATEs; want 2 and 2 (position, hits)", s, u)
		}
		s0 = db.Statements()
		if again, err := db.ApplyViewLog(ctx, start, next, deltas, nil); err != nil || again {
			t.Errorf("second apply from the old position = %v, %v; want false, nil", again, err)
		}
		if s := db.Statements() - s0; s != 1 {
			t.Errorf("second apply: %d statements, want 1 (the position's UPDATE, which matched nothing)", s)
		}
		after := hitsOf(t, db, 1, 2)
		if after[1] != before[1]+4 || after[2] != before[2]+1 {
			t.Errorf("hits %v → %v, want +4 and +1, once", before, after)
		}
		s0 = db.Statements()
		hits, pos, err := db.ViewLogBase(ctx, []int64{1, 2, 999})
		if err != nil || pos != next.Applied || hits[1] != after[1] || len(hits) != 2 {
			t.Errorf("base = %v, %v, %v; want hits of 1 and 2 and position %v", hits, pos, err, next.Applied)
		}
		if s := db.Statements() - s0; s != 1 {
			t.Errorf("base: %d statements, want 1", s)
		}
		if got, _ := db.ViewLog(ctx); got != next {
			t.Errorf("view log = %+v, want %+v", got, next)
		}
	})
}
