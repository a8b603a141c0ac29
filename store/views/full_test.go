package views_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/storetest"
)

// A Redis full under noeviction refuses the record script whole (Redis
// checks memory at its first write): the view is counted in process
// instead, acknowledged, flushed straight to SQL. Once memory frees, the
// next flush finds Redis answering and views go there again. SQL ends with
// exactly the views acknowledged; the client's counts never go down.
func TestViewsOnAFullRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis server of its own")
	}
	const products = 5
	url := storetest.StartRedis(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	f := newFixture(t, store.Postgres, products)
	base := f.sqlHits(t, ids(products)...)
	in := f.instance(t, instanceOptions{redisURL: url})
	c := newClient(t, in)
	rdb, _ := f.redis(t, url, 0)
	ctx := context.Background()

	c.record(20, products)
	mustFlush(t, in)
	filler := make([]byte, 16<<10)
	for i := 0; ; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("filler:%d", i), filler, 0).Err(); err != nil {
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatal(err)
			}
			break
		}
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil { // full, whatever buffers do
		t.Fatal(err)
	}
	local := in.Stats().LocalViews
	c.record(30, products)
	if n := in.Stats().LocalViews - local; n != 30 || c.failed != 0 {
		t.Errorf("on a full Redis: %d views counted in process, %d refused; want 30 and 0", n, c.failed)
	}
	_ = in.Flush(ctx) // the trim may be refused too; the views in process reach SQL
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, in) // finds Redis answering: requests count there again
	local = in.Stats().LocalViews
	c.record(10, products)
	if n := in.Stats().LocalViews - local; n != 0 {
		t.Errorf("memory freed: %d views still counted in process, want 0", n)
	}
	mustFlush(t, in)
	got := f.sqlHits(t, ids(products)...)
	var inSQL int64
	for _, id := range ids(products) {
		inSQL += got[id] - base[id]
		if d := got[id] - base[id]; d != c.acked.get(id) {
			t.Errorf("product %d: SQL has %d new views, %d were acknowledged", id, d, c.acked.get(id))
		}
	}
	c.see(products)
	t.Logf("full Redis: %d views acknowledged, %d in SQL, %d refused", c.acked.total(), inSQL, c.failed)
}
