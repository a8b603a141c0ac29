package views_test

import (
	"context"
	"testing"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
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
	f := newFixture(t, sqlstore.Postgres, products)
	base := f.sqlHits(t, ids(products)...)
	in := f.instance(t, instanceOptions{redisURL: url})
	c := newClient(t, in)
	rdb, _ := f.redis(t, url, 0)
	ctx := context.Background()

	c.record(20, products)
	mustFlush(t, in)
	storetest.FillRedis(t, rdb)
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
	inSQL := c.sqlHoldsAcked(f, base, products)
	c.see(products)
	t.Logf("full Redis: %d views acknowledged, %d in SQL, %d refused", c.acked.total(), inSQL, c.failed)
}

// Redis's maxmemory-policy changed to an allkeys- one while the service
// runs: the next check (every EvictionCheck) moves counting in process, and
// a policy set back moves it to Redis again. No view is lost either way.
func TestViewsFollowTheEvictionPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis server of its own")
	}
	const products = 5
	url := storetest.StartRedis(t, "--maxmemory-policy", "noeviction")
	f := newFixture(t, sqlstore.Postgres, products)
	base := f.sqlHits(t, ids(products)...)
	rdb, _ := f.redis(t, url, 0)
	in := f.instance(t, instanceOptions{redisURL: url, mayEvict: func(ctx context.Context) (string, bool, error) {
		policy, err := redisstore.EvictionPolicy(ctx, rdb)
		return policy, redisstore.EvictsAnyKey(policy), err
	}})
	c := newClient(t, in)
	ctx := context.Background()
	setPolicy := func(p string) {
		t.Helper()
		if err := rdb.ConfigSet(ctx, "maxmemory-policy", p).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // past EvictionCheck
		mustFlush(t, in)
	}
	inProcess := func(n int) int64 {
		before := in.Stats().LocalViews
		c.record(n, products)
		return in.Stats().LocalViews - before
	}
	if n := inProcess(20); n != 0 {
		t.Errorf("under noeviction: %d of 20 views counted in process, want 0", n)
	}
	setPolicy("allkeys-lru")
	if n := inProcess(20); n != 20 {
		t.Errorf("under allkeys-lru: %d of 20 views counted in process, want 20", n)
	}
	setPolicy("volatile-lru")
	if n := inProcess(20); n != 0 {
		t.Errorf("under volatile-lru again: %d of 20 views counted in process, want 0", n)
	}
	mustFlush(t, in)
	c.sqlHoldsAcked(f, base, products)
}
