package views_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
	"catalog-bff/store/views"
)

// fixture is a seeded database and a Redis key prefix of one test, from
// which the test makes as many counters (instances) as it likes.
type fixture struct {
	dialect  sqlstore.Dialect
	dbURL    string
	db       *sqlstore.DB // the test's own handle, for assertions
	redisURL string
	prefix   string
}

func newFixture(t *testing.T, d sqlstore.Dialect, products int) *fixture {
	t.Helper()
	f := &fixture{dialect: d, dbURL: storetest.DatabaseURL(t, d), redisURL: storetest.RedisURL(t)}
	f.db = f.open(t)
	if err := f.db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Seed(context.Background(), sqlstore.SeedOptions{Products: products, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	f.prefix = storetest.Prefix(t, f.redisURL)
	return f
}

// open returns a new handle on the fixture's database, as another process
// would have.
func (f *fixture) open(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// redis returns a new client, through url when given, with a round-trip
// counter. Its calls time out after timeout, default 1 s: long enough that
// a healthy call on a loaded machine (a parallel -race run) does not time
// out, which would give a view an unknown outcome. Tests of a Redis that
// fails set their own.
func (f *fixture) redis(t *testing.T, url string, timeout time.Duration) (redis.UniversalClient, *redisstore.RedisCounter) {
	t.Helper()
	if url == "" {
		url = f.redisURL
	}
	if timeout == 0 {
		timeout = time.Second
	}
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	counter := &redisstore.RedisCounter{}
	rdb.AddHook(counter)
	return rdb, counter
}

// patientRedis returns a client through url, with a round-trip counter,
// that keeps go-redis's defaults: it waits for each reply up to its 5 s read
// timeout, whatever the context's deadline, as a client made without
// redisstore.NewRedis does. Retries are off, so that a test counts what the
// counter sent.
func (f *fixture) patientRedis(t *testing.T, url string) (redis.UniversalClient, *redisstore.RedisCounter) {
	t.Helper()
	if url == "" {
		url = f.redisURL
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	counter := &redisstore.RedisCounter{}
	rdb.AddHook(counter)
	return rdb, counter
}

// instance is one service instance's counter, with its own SQL and Redis
// connections.
type instance struct {
	*views.Counter
	db    *sqlstore.DB
	rv    *redisstore.RedisViews
	redis *redisstore.RedisCounter
	stop  func() // stops the flusher after its final flush
}

type instanceOptions struct {
	redisURL string        // through a proxy; default the fixture's Redis
	timeout  time.Duration // of each Redis call; default 1 s (see fixture.redis)
	noRedis  bool
	patient  bool          // a client that waits for late replies (patientRedis)
	interval time.Duration // flusher interval; 0: no flusher runs
	flushMax int64
	sql      func(views.SQL) views.SQL     // wraps the SQL side
	wrap     func(views.Redis) views.Redis // wraps the Redis side
	mayEvict func(context.Context) (string, bool, error)
}

func (f *fixture) instance(t *testing.T, o instanceOptions) *instance {
	t.Helper()
	in := &instance{db: f.open(t), stop: func() {}}
	if o.timeout == 0 {
		o.timeout = time.Second
	}
	opt := views.Options{SQL: in.db, FlushInterval: o.interval, FlushMax: o.flushMax,
		Timeout: o.timeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MayEvict: o.mayEvict, EvictionCheck: 10 * time.Millisecond}
	if o.sql != nil {
		opt.SQL = o.sql(in.db)
	}
	if !o.noRedis {
		var rdb redis.UniversalClient
		if o.patient {
			rdb, in.redis = f.patientRedis(t, o.redisURL)
		} else {
			rdb, in.redis = f.redis(t, o.redisURL, o.timeout)
		}
		in.rv = redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: f.prefix})
		opt.Redis = in.rv
		if o.wrap != nil {
			opt.Redis = o.wrap(in.rv)
		}
	}
	in.Counter = views.New(opt)
	if o.interval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { in.Run(ctx); close(done) }()
		var once sync.Once
		in.stop = func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(in.stop)
	}
	return in
}

// sqlHits reads products.hits of ids from the fixture's database.
func (f *fixture) sqlHits(t *testing.T, ids ...int64) map[int64]int64 {
	t.Helper()
	hits, _, err := f.db.ViewBase(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// tally counts acknowledged views per product. Safe for concurrent use.
type tally struct {
	mu sync.Mutex
	n  map[int64]int64
}

func (c *tally) add(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int64]int64{}
	}
	c.n[id]++
}

func (c *tally) get(id int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

func (c *tally) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s int64
	for _, n := range c.n {
		s += n
	}
	return s
}

// ids returns 1..n.
func ids(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// monotonic checks that the hits a client sees for each product never go
// down. Safe for use by one goroutine.
type monotonic struct {
	t    *testing.T
	last map[int64]int64
}

func (m *monotonic) see(id, v int64) {
	if m.last == nil {
		m.last = map[int64]int64{}
	}
	if old, ok := m.last[id]; ok && v < old {
		m.t.Errorf("product %d: hits went down from %d to %d", id, old, v)
	}
	m.last[id] = v
}
