package views_test

import (
	"context"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
)

// Stats report the views waiting, the views flushed and when the last
// flush succeeded, through Redis and without it.
func TestStatsPendingFlushedAndLastFlush(t *testing.T) {
	f := newFixture(t, sqlstore.SQLite, 3)
	for _, o := range []instanceOptions{{}, {noRedis: true}} {
		in := f.instance(t, o)
		ctx := context.Background()
		for _, id := range []int64{1, 1, 2} {
			if _, err := in.Record(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		before := in.Stats()
		if before.Pending != 3 || before.Flushed != 0 {
			t.Errorf("noRedis=%v: before the flush %+v; want 3 pending, 0 flushed", o.noRedis, before)
		}
		if err := in.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		after := in.Stats()
		if after.Pending != 0 || after.Flushed != 3 || !after.LastFlush.After(before.LastFlush) ||
			time.Since(after.LastFlush) > time.Minute {
			t.Errorf("noRedis=%v: after the flush %+v; want 0 pending, 3 flushed, a new LastFlush", o.noRedis, after)
		}
	}
}
