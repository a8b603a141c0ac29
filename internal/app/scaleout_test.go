package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// Two instances, each a process of its own, share one Redis Cluster and one
// PostgreSQL database. Writes, reads and views are spread over both: no read
// through the instance that acknowledged a write is older than it, a read
// through the other catches up within a Pub/Sub delivery, and once both have stopped (SIGTERM: each flushes what it holds), SQL
// holds exactly the views they acknowledged.
func TestInstancesShareACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	t.Parallel()
	// Redis calls time out after 1 s: a healthy cluster on a saturated
	// 2-core CI machine running the race detector must not look failed.
	f := startFleet(t, storetest.ClusterURL(t), "1s")
	r := f.load(t, 5*time.Second, nil)
	// Each instance's near cache hears of the other's writes through the
	// invalidation stream, one Pub/Sub delivery later; on a healthy
	// cluster that is milliseconds, and 2 s is a bound a loaded machine
	// cannot reach while the stream works (and the outbox's redelivery, if
	// an invalidation timed out, fits in it too).
	staleOnlyElsewhere(t, r, 2*time.Second)
	if r.views.ambiguous != 0 {
		t.Errorf("%d views answered UNAVAILABLE by a healthy cluster", r.views.ambiguous)
	}
	f.drain(t)
	if got := f.viewsInSQL(t); got != r.views.acked {
		t.Errorf("SQL holds %d new views, the instances acknowledged %d", got, r.views.acked)
	}
}

// A replica takes over from its master (CLUSTER FAILOVER) while two
// instances are under load: the master of the view counter's slot, which
// also holds a third of the documents. Reads and writes see no error: what
// the failover costs them, the breaker and the SQL fallback absorb. No read
// is stale. Views: a manual failover loses no write, so SQL holds every
// acknowledged view; a view whose Redis call timed out during the switch is
// UNAVAILABLE (it may or may not have counted) and no other error.
func TestClusterFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	t.Parallel()
	url := storetest.FailoverClusterURL(t)
	// Redis calls time out after 100 ms, so that the switch, which pauses
	// the old master's writes, shows: the breaker opens, invalidations wait
	// in the outbox, reads go to SQL.
	f := startFleet(t, url, "100ms")
	var from, to string
	var done time.Time
	r := f.load(t, 6*time.Second, func() {
		time.Sleep(2 * time.Second)
		from, to = failOver(t, url, f.env["REDIS_PREFIX"]+"{views}:pending")
		done = time.Now()
	})
	t.Logf("failover of %s to %s", from, to)
	f.logWarnings(t)
	// A write whose invalidation could not reach Redis is acknowledged; its
	// instance fences its own cache reads, but the other instance serves the
	// old document until the outbox delivers the invalidation: every 250 ms
	// once Redis answers, behind a breaker that waits 1 s before it tries.
	staleOnlyElsewhere(t, r, 2*time.Second)
	after := 0
	for _, e := range r.Reads {
		if e.Start.After(done) {
			after++
		}
	}
	if after < 50 {
		t.Errorf("%d reads after the failover, want some", after)
	}
	f.drain(t)
	got := f.viewsInSQL(t)
	t.Logf("views: %d acknowledged, %d UNAVAILABLE, %d in SQL", r.views.acked, r.views.ambiguous, got)
	if got < r.views.acked || got > r.views.acked+r.views.ambiguous {
		t.Errorf("SQL holds %d new views; want the %d acknowledged, plus at most the %d UNAVAILABLE",
			got, r.views.acked, r.views.ambiguous)
	}
}

// staleOnlyElsewhere fails t unless every stale read of r went through the
// instance that did not acknowledge the write it missed, and started
// within bound of that acknowledgement: the instance that wrote never
// serves what it overwrote, the other catches up within bound.
func staleOnlyElsewhere(t *testing.T, r fleetResult, bound time.Duration) {
	t.Helper()
	var lag time.Duration
	for _, s := range r.Stale() {
		reader, writer := s.Read.Client%2, (s.Missed.Client+int(s.Missed.Value))%2
		lag = max(lag, s.Lag())
		if reader == writer || s.Lag() > bound {
			t.Errorf("stale read through instance %d of product %d, %v after instance %d acknowledged the write; "+
				"want only through the other instance, within %v", reader, s.Read.Product, s.Lag(), writer, bound)
		}
	}
	t.Logf("%d stale reads through the other instance, the latest %v after the write", r.StaleReads(), lag)
}

// failOver makes a replica of the master that holds key take over
// (CLUSTER FAILOVER, which waits for the replica to catch up), waits until
// it is master, and returns both addresses.
func failOver(t *testing.T, clusterURL, key string) (from, to string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb, err := redisstore.NewRedis(clusterURL, redisstore.RedisOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Error(err)
		return
	}
	defer rdb.Close()
	master, err := rdb.(*redis.ClusterClient).MasterForKey(ctx, key)
	if err != nil {
		t.Error(err)
		return
	}
	from = master.Options().Addr
	// A replica may still be syncing, after the cluster started or after an
	// earlier failover: wait for one, within the deadline.
	for to, err = replicaOf(ctx, master); err != nil && ctx.Err() == nil; to, err = replicaOf(ctx, master) {
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Error(err)
		return
	}
	replica := redis.NewClient(&redis.Options{Addr: to})
	defer replica.Close()
	if err := replica.Do(ctx, "cluster", "failover").Err(); err != nil {
		t.Errorf("CLUSTER FAILOVER on %s: %v", to, err)
		return
	}
	for ctx.Err() == nil {
		if role, err := replica.Do(ctx, "role").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
			return from, to
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%s did not become master", to)
	return from, to
}

// replicaOf returns the address of a replica of master, from CLUSTER NODES.
func replicaOf(ctx context.Context, master *redis.Client) (string, error) {
	id, err := master.Do(ctx, "cluster", "myid").Text()
	if err != nil {
		return "", err
	}
	nodes, err := master.ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(nodes) {
		// <id> <ip:port@bus> <flags> <master id> …
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == id && strings.Contains(f[2], "slave") && !strings.Contains(f[2], "fail") {
			addr, _, _ := strings.Cut(f[1], "@")
			return addr, nil
		}
	}
	return "", fmt.Errorf("%s has no healthy replica", master.Options().Addr)
}
