package views_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Redis going back in time: a restart on an older snapshot, or a failover
// to a replica that lagged. Each test runs Redis servers of its own and
// PostgreSQL, and checks, per product, that SQL holds every acknowledged
// view exactly once (the views Redis lost that the process which
// acknowledged them still remembers are counted again by it) and that the
// hits one client sees never go down.

// client records views through one instance and checks what it sees.
type client struct {
	t      *testing.T
	in     *instance
	acked  tally
	mono   monotonic
	failed int // views refused (their outcome unknown while Redis died)
}

func newClient(t *testing.T, in *instance) *client {
	return &client{t: t, in: in, mono: monotonic{t: t}}
}

// record sends n views spread over products, then reads every count.
func (c *client) record(n, products int) {
	c.t.Helper()
	ctx := context.Background()
	for i := range n {
		id := int64(1 + i%products)
		v, err := c.in.Record(ctx, id)
		if err != nil {
			var se *store.Error
			if !errors.As(err, &se) || se.Code != store.Unavailable {
				c.t.Fatalf("record: %v", err)
			}
			c.failed++
			continue
		}
		c.acked.add(id)
		c.mono.see(id, v)
	}
	c.see(products)
}

// see reads every product's hits, checking they did not go down.
func (c *client) see(products int) {
	c.t.Helper()
	hits, err := c.in.Hits(context.Background(), ids(products))
	if err != nil {
		c.t.Fatalf("hits: %v", err)
	}
	for id, v := range hits {
		c.mono.see(id, v)
	}
}

// sqlHoldsAcked checks that SQL holds, per product, base plus exactly the
// views c saw acknowledged, and returns the views SQL gained.
func (c *client) sqlHoldsAcked(f *fixture, base map[int64]int64, products int) int64 {
	c.t.Helper()
	got := f.sqlHits(c.t, ids(products)...)
	var inSQL int64
	for _, id := range ids(products) {
		d := got[id] - base[id]
		inSQL += d
		if d != c.acked.get(id) {
			c.t.Errorf("product %d: SQL has %d new views, %d were acknowledged", id, d, c.acked.get(id))
		}
	}
	return inSQL
}

func mustFlush(t *testing.T, in *instance) {
	t.Helper()
	if err := in.Flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Redis is restarted on a snapshot taken before the last flushes. The
// snapshot holds views that SQL has since taken (the old design counted
// them a second time), and lacks views acknowledged after it, both applied
// ones and one not yet applied. SQL ends up with every acknowledged view
// exactly once, and so do the counts of a new instance.
func TestViewsExactAfterRestoreFromOlderSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis servers of its own")
	}
	const products = 5
	srv := storetest.NewRedisServer(t)
	f := newFixture(t, sqlstore.Postgres, products)
	base := f.sqlHits(t, ids(products)...)
	in := f.instance(t, instanceOptions{redisURL: srv.URL()})
	c := newClient(t, in)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()

	c.record(40, products)
	mustFlush(t, in)
	c.record(30, products) // in the log, not yet applied, when the snapshot is taken
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(t.TempDir(), "older.rdb")
	copyFile(t, filepath.Join(srv.Dir, "dump.rdb"), older)
	mustFlush(t, in)       // the 30 applied and trimmed
	c.record(20, products) // applied after the snapshot
	mustFlush(t, in)
	c.record(10, products) // acknowledged, never applied: only in Redis and in this process's memory

	srv.Kill()
	copyFile(t, older, filepath.Join(srv.Dir, "dump.rdb"))
	srv.Start()
	c.record(25, products) // the first may fail while the client finds its connections dead
	mustFlush(t, in)
	mustFlush(t, in)

	s := in.Stats()
	if s.Rewinds == 0 || s.Recovered != 10 {
		t.Errorf("stats %+v: want a rewind found and the 10 views Redis lost recovered", s)
	}
	inSQL := c.sqlHoldsAcked(f, base, products)
	c.see(products)
	// A restarted service reads the same counts: every display count was
	// made again from SQL and the log.
	fresh := newClient(t, f.instance(t, instanceOptions{redisURL: srv.URL()}))
	fresh.mono = c.mono
	fresh.see(products)
	for id, v := range fresh.mono.last {
		if v != base[id]+c.acked.get(id) {
			t.Errorf("product %d: a new instance shows %d, want %d", id, v, base[id]+c.acked.get(id))
		}
	}
	t.Logf("restore: %d views acknowledged, %d in SQL, %d recovered from memory, %d refused during the restart",
		c.acked.total(), inSQL, s.Recovered, c.failed)
}

// A replica is promoted while it lags (its link to the master hangs, as in
// a partition): it has the views of a flush that SQL has since applied
// (and whose trim it never got), and lacks views the old master
// acknowledged. Instance A, which acknowledged some of those,
// remembers and recovers them; instance B, which acknowledged others, is
// gone with the master (its memory too): those are the views lost, counted
// here, never more. No view is counted twice.
func TestViewsExactAfterFailoverToLaggingReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis servers of its own")
	}
	const products = 5
	master := storetest.NewRedisServer(t)
	link := storetest.NewProxy(t, master.Addr) // the replication link, which the test hangs
	host, port, _ := strings.Cut(link.Addr(), ":")
	replica := storetest.NewRedisServer(t, "--replicaof", host, port)
	proxy := storetest.NewProxy(t, master.Addr)
	url := "redis://" + proxy.Addr() + "/0"
	f := newFixture(t, sqlstore.Postgres, products)
	base := f.sqlHits(t, ids(products)...)
	a, b := f.instance(t, instanceOptions{redisURL: url}), f.instance(t, instanceOptions{redisURL: url})
	ca, cb := newClient(t, a), newClient(t, b)
	mrdb := redis.NewClient(&redis.Options{Addr: master.Addr})
	defer mrdb.Close()
	rrdb := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rrdb.Close()
	ctx := context.Background()
	storetest.Eventually(t, 10*time.Second, "the replica to sync", func() bool {
		info, err := rrdb.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})

	ca.record(40, products)
	mustFlush(t, a)
	ca.record(30, products)
	if n, err := mrdb.Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v: the replica must hold the 30 views", n, err)
	}
	link.Hang()             // the replica lags from here: nothing the master sends reaches it
	mustFlush(t, a)         // the 30 applied; the trim never reaches the replica
	ca.record(20, products) // acknowledged by the master only; A remembers them
	cb.record(15, products) // acknowledged by the master only; B will be gone
	master.Kill()
	if err := rrdb.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	proxy.Retarget(replica.Addr)
	mustFlush(t, a) // may fail once on a connection the old master left dead
	_ = a.Flush(ctx)
	ca.record(25, products) // on the promoted replica
	mustFlush(t, a)

	s := a.Stats()
	if s.Recovered != 20 {
		t.Errorf("A recovered %d views, want the 20 it acknowledged that the replica lacked; stats %+v", s.Recovered, s)
	}
	got := f.sqlHits(t, ids(products)...)
	var inSQL, lost int64
	for _, id := range ids(products) {
		d := got[id] - base[id]
		inSQL += d
		want := ca.acked.get(id) + cb.acked.get(id)
		lost += want - d
		if d > want {
			t.Errorf("product %d: SQL has %d new views, more than the %d acknowledged: counted twice", id, d, want)
		}
	}
	if lost != cb.acked.total() { // B's lag-window views, and only those
		t.Errorf("%d acknowledged views missing from SQL, want the %d B acknowledged in the lag window", lost, cb.acked.total())
	}
	ca.see(products)
	t.Logf("failover: %d views acknowledged, %d in SQL, %d counted twice, %d lost (acknowledged by a process gone "+
		"with the old master, in the replica's lag), %d recovered by A", ca.acked.total()+cb.acked.total(), inSQL,
		max(0, inSQL-(ca.acked.total()+cb.acked.total())), lost, s.Recovered)
}
