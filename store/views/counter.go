// Package views is the write-behind view counter: recordView counts a view
// in Redis in one round trip, Product.hits reads counts in one round trip
// per batch, and a background flusher moves the views into SQL in one
// UPDATE per flush window, exactly once. docs/VIEWS.md explains the design;
// the doc comments here state the contracts.
package views

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/throttle"
)

// SQL is the database side of the counter (sqlstore.DB).
type SQL interface {
	ApplyViews(ctx context.Context, b sqlstore.ViewBatch) (bool, error)
	ViewBase(ctx context.Context, ids []int64, batchIDs []string) (map[int64]int64, map[string]bool, error)
	PruneViewBatches(ctx context.Context, before time.Time) (int64, error)
	ViewLog(ctx context.Context) (store.ViewLogState, error)
	ApplyViewLog(ctx context.Context, from, to store.ViewLogState, deltas map[int64]int64, beforeCommit func()) (bool, error)
	ViewLogBase(ctx context.Context, ids []int64) (map[int64]int64, store.LogPos, error)
}

// Redis is the Redis side of the counter (redisstore.RedisViews): each method is
// one round trip.
type Redis interface {
	Record(ctx context.Context, id int64) (display, queued int64, err error)
	Read(ctx context.Context, ids []int64) (redisstore.ViewRead, error)
	Init(ctx context.Context, gen string, ids, bases []int64, applied store.LogPos) ([]int64, error)
	ReadLog(ctx context.Context, applied store.LogPos, max int) (redisstore.ViewLogRead, error)
	TrimLog(ctx context.Context, through store.LogPos, token string, views int64) error
	RepairLog(ctx context.Context, sql store.ViewLogState) error
	Unconfirmed() []redisstore.LedgerEntry
	Confirm(through store.LogPos, gone []store.LogPos)
	Invalidate(ctx context.Context, ids []int64) error
}

var (
	_ SQL   = (*sqlstore.DB)(nil)
	_ Redis = (*redisstore.RedisViews)(nil)
)

// Options configures a Counter. Zero fields take the defaults.
type Options struct {
	SQL SQL
	// Redis holds the counts. Nil means no Redis: views count in process
	// and flush straight to SQL.
	Redis Redis
	// FlushInterval is how often the flusher runs. Default 1s.
	FlushInterval time.Duration
	// FlushMax makes the flusher run early once more views than this wait.
	// Default 10,000.
	FlushMax int64
	// Timeout is the deadline of each Redis call of a request; a call
	// whose client does not give up at the deadline is abandoned at twice
	// Timeout. After a failed or timed-out call, requests count views in
	// process and read SQL until a flush's read of the log answers within
	// Timeout.
	// Default 50ms.
	Timeout time.Duration
	// FlushTimeout bounds each step of a flush. Default 5s.
	FlushTimeout time.Duration
	// DrainTimeout bounds the final flush when Run stops: it is retried
	// until then, and what SQL has not taken is written to SpillFile. A
	// stop may end it sooner (DrainBy). Default 20s; the service passes
	// SHUTDOWN_TIMEOUT.
	DrainTimeout time.Duration
	// SpillFile receives, at stop, the views counted in process that SQL
	// did not take; the next Run applies it first. Empty: none, and such
	// views are lost (Lost counts them).
	SpillFile string
	// Retention is how long view_batches keeps the record of an applied
	// batch. Default 7 days.
	Retention time.Duration
	// Remember bounds the products whose highest shown count is remembered
	// per generation (see highWater). Default 100,000.
	Remember int
	Logger   *slog.Logger
	// MayEvict, when set, tells whether Redis may evict keys without a TTL,
	// and its maxmemory-policy (see CheckEviction).
	MayEvict func(ctx context.Context) (policy string, evicts bool, err error)
	// EvictionCheck is how often the flusher asks MayEvict again. Default 1 min.
	EvictionCheck time.Duration
	// Faults, when set, is told of each step of a flush (store.Faults):
	// "after-read", "before-commit", "after-commit", "after-trim". Crash
	// tests kill the process there.
	Faults store.Faults
}

// Counter counts product views. It is safe for concurrent use; Run runs its
// flusher.
type Counter struct {
	opt   Options
	local *local
	hw    *highWater
	down  atomic.Bool // Redis failed; cleared by the flusher's next success
	// evicting: Redis may evict the counter's keys (CheckEviction).
	evicting          atomic.Bool
	lastEvictionCheck atomic.Int64 // Unix nanoseconds
	// flushFailing: the last flush failed (logged once, until one works).
	flushFailing atomic.Bool
	kick         chan struct{}
	flushMu      sync.Mutex // one flush at a time
	// known is SQL's state of the view log as this counter's last flush
	// left it, nil when unknown; under flushMu.
	known     *store.ViewLogState
	lastPrune time.Time
	stats     counters
	warn      throttle.Throttle
	lost      atomic.Int64 // views the last drain could not save
}

// New returns a Counter over opt's SQL and Redis.
func New(opt Options) *Counter {
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	if opt.FlushMax <= 0 {
		opt.FlushMax = 10_000
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	if opt.FlushTimeout <= 0 {
		opt.FlushTimeout = 5 * time.Second
	}
	if opt.DrainTimeout <= 0 {
		opt.DrainTimeout = 20 * time.Second
	}
	if opt.Retention <= 0 {
		opt.Retention = 7 * 24 * time.Hour
	}
	if opt.Remember <= 0 {
		opt.Remember = 100_000
	}
	if opt.EvictionCheck <= 0 {
		opt.EvictionCheck = time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	c := &Counter{opt: opt, local: newLocal(), hw: newHighWater(opt.Remember),
		kick: make(chan struct{}, 1), lastPrune: time.Now()}
	c.stats.lastFlush.Store(time.Now().UnixNano()) // the lag counts from the start
	return c
}

// ErrUnknown is the error (wrapped in a store.Unavailable error) of a view
// whose Redis call failed after it may have reached Redis: it may or may not
// have been counted, and counting it in process too could count it twice.
var ErrUnknown = errors.New("the view counter did not answer")

// Record counts one view of product id, which the caller has checked
// exists, and returns the product's hits including this view.
//
// A nil error means the view is counted exactly once; after an error it
// may or may not be. With Redis it costs one round trip and no SQL once the
// product has a display count (otherwise the count is made as in Hits).
// When Redis cannot be reached, the view is counted in process instead and
// the count is read from SQL. When a Redis call fails after it may have
// reached Redis, Record returns a store.Unavailable error wrapping
// ErrUnknown rather than count the view in process too.
func (c *Counter) Record(ctx context.Context, id int64) (int64, error) {
	if c.redisUp() {
		n, err := c.recordRedis(ctx, id)
		if !errors.Is(err, errNotSent) {
			return n, err
		}
	}
	return c.recordLocal(ctx, id)
}

func (c *Counter) recordRedis(ctx context.Context, id int64) (int64, error) {
	res, err := bounded(ctx, c.opt.Timeout, func(ctx context.Context) ([2]int64, error) {
		n, queued, err := c.opt.Redis.Record(ctx, id)
		return [2]int64{n, queued}, err
	})
	if err != nil {
		return 0, c.redisFailed(ctx, err)
	}
	n, queued := res[0], res[1]
	c.stats.redisQueued.Store(queued)
	if queued > c.opt.FlushMax {
		c.flushSoon()
	}
	if n < 0 { // no display count yet: the read makes one, this view included
		hits, err := c.Hits(ctx, []int64{id})
		return hits[id], err
	}
	// n is exact and includes this view, and every view of id that Redis
	// counted before it. A remembered value above n was shown by a view or
	// read that came later, or by the fallback (views Redis lacks until the
	// flusher drops its stale count): it is kept, but not bumped, because
	// it may already include this view (views answered together by one
	// coalesced call reach here in any order), and a bump would then show
	// more views than there are.
	return c.hw.raise(id, n), nil
}

// recordLocal reads the product's count first, so that a failed read
// counts nothing, then counts the view in process.
func (c *Counter) recordLocal(ctx context.Context, id int64) (int64, error) {
	hits, err := c.localHits(ctx, []int64{id})
	if err != nil {
		return 0, err
	}
	if c.local.add(id) > c.opt.FlushMax {
		c.flushSoon()
	}
	c.stats.localViews.Add(1)
	c.hw.raise(id, hits[id])
	c.hw.bump(id)
	return c.hw.raise(id, hits[id]+1), nil
}

// Hits returns the hits of the products among ids that exist: the views in
// SQL plus those counted and not yet flushed. Products that do not exist
// are absent from the map. A value is never lower than one this process
// returned before for the same product (see highWater).
//
// With Redis, and every product having a display count, it is one round
// trip and no SQL. Products without one cost one SQL statement and one
// more round trip for the batch. When Redis cannot be used it reads SQL and
// adds the views counted in process, one statement.
func (c *Counter) Hits(ctx context.Context, ids []int64) (map[int64]int64, error) {
	var vals map[int64]int64
	err := errNotSent
	if c.redisUp() {
		vals, err = c.redisHits(ctx, ids)
	}
	if isRedisErr(err) {
		vals, err = c.localHits(ctx, ids)
	}
	if err != nil {
		return nil, err
	}
	for id, v := range vals {
		vals[id] = c.hw.raise(id, v)
	}
	return vals, nil
}

// maxInitTries bounds how often a read retries initializing display counts
// while flushes keep moving batches; then it serves the SQL-based count.
const maxInitTries = 4

func (c *Counter) redisHits(ctx context.Context, ids []int64) (map[int64]int64, error) {
	for try := 0; try < maxInitTries; try++ {
		r, err := c.read(ctx, ids)
		if err != nil {
			return nil, err
		}
		out, missing := make(map[int64]int64, len(ids)), []int64(nil)
		for i, n := range r.Display {
			if n >= 0 {
				out[ids[i]] = n
			} else {
				missing = append(missing, ids[i])
			}
		}
		if len(missing) == 0 {
			return out, nil
		}
		if err := c.initCounts(ctx, r, missing, out); !errors.Is(err, redisstore.ErrViewsMoved) {
			return out, err
		}
	}
	c.stats.initGaveUp.Add(1)
	return c.localHits(ctx, ids)
}

func (c *Counter) read(ctx context.Context, ids []int64) (redisstore.ViewRead, error) {
	r, err := bounded(ctx, c.opt.Timeout, func(ctx context.Context) (redisstore.ViewRead, error) {
		return c.opt.Redis.Read(ctx, ids)
	})
	if err != nil {
		return r, c.redisFailed(ctx, err)
	}
	return r, nil
}

// initCounts makes the display counts of missing, which exist in SQL, from
// one SQL snapshot: a product's hits there, plus its views in the log
// entries after the snapshot's applied position. The generation r.Gen
// proves that no entry was trimmed between the read and the write, so that
// no view is in both terms or in neither (docs/VIEWS.md). Products not in
// SQL get no count.
func (c *Counter) initCounts(ctx context.Context, r redisstore.ViewRead, missing []int64, out map[int64]int64) error {
	base, applied, err := c.opt.SQL.ViewLogBase(ctx, missing)
	if err != nil {
		return err
	}
	ids, bases := make([]int64, 0, len(missing)), make([]int64, 0, len(missing))
	for _, id := range missing {
		if b, ok := base[id]; ok {
			ids, bases = append(ids, id), append(bases, b)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	counts, err := bounded(ctx, c.opt.Timeout, func(ctx context.Context) ([]int64, error) {
		return c.opt.Redis.Init(ctx, r.Gen, ids, bases, applied)
	})
	if err != nil {
		if errors.Is(err, redisstore.ErrViewsMoved) {
			return err
		}
		return c.redisFailed(ctx, err)
	}
	for i, id := range ids {
		out[id] = counts[i]
	}
	return nil
}

// localHits is the count without Redis: SQL hits plus the views counted in
// process that SQL does not hold yet, from one SQL snapshot.
func (c *Counter) localHits(ctx context.Context, ids []int64) (map[int64]int64, error) {
	batches := c.local.snapshot(ids)
	batchIDs := make([]string, len(batches))
	for i, b := range batches {
		batchIDs[i] = b.id
	}
	hits, applied, err := c.opt.SQL.ViewBase(ctx, ids, batchIDs)
	if err != nil {
		return nil, err
	}
	for id := range hits {
		for _, b := range batches {
			if !applied[b.id] {
				hits[id] += b.views[id]
			}
		}
	}
	return hits, nil
}

// flushSoon asks the flusher to run now rather than at its next tick.
func (c *Counter) flushSoon() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Counter) redisUp() bool { return c.opt.Redis != nil && !c.down.Load() && !c.evicting.Load() }

// InRedis reports whether views are counted in Redis now, rather than in
// process (no Redis, or Redis failing until a flush finds it answering).
func (c *Counter) InRedis() bool { return c.redisUp() }
