package views

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// Run is the flusher: it applies a spill file an earlier process left,
// flushes once at start, which applies whatever a crashed process left in
// the log, then every FlushInterval, and sooner when more than FlushMax
// views wait. When ctx is done it drains: it retries the final flush until
// DrainTimeout, or the DrainBy that ctx was cancelled with if sooner,
// spills what SQL did not take (see drain) and returns.
// Errors are logged, and what failed is retried at the next flush.
func (c *Counter) Run(ctx context.Context) {
	t := time.NewTicker(c.opt.FlushInterval)
	defer t.Stop()
	for {
		if err := c.replaySpill(ctx); err != nil && c.warn.Allow(10*time.Second) {
			c.opt.Logger.Warn("view counter: spill file not applied yet; retrying", "err", err)
		}
		c.flushAndLog(ctx)
		select {
		case <-ctx.Done():
			c.lost.Store(c.drain(ctx))
			return
		case <-t.C:
		case <-c.kick:
		}
	}
}

// flushAndLog flushes, logging when flushes start failing and when they
// work again, not at every try.
func (c *Counter) flushAndLog(ctx context.Context) {
	err := c.Flush(ctx)
	switch {
	case err == nil:
		if c.flushFailing.Swap(false) {
			c.opt.Logger.Info("view counter: flushes work again")
		}
	case ctx.Err() != nil:
	case !c.flushFailing.Swap(true):
		c.opt.Logger.Warn("view counter: flush failed; retrying at every interval, logged again when one works", "err", err)
	default:
		c.opt.Logger.Debug("view counter: flush failed again", "err", err)
	}
}

// Flush writes every view counted so far to SQL:
//  1. with Redis, it reads the log entries after SQL's applied position
//     (one round trip; SQL's position is read too, one statement, unless
//     the last flush left it known), checks that Redis did not go back in
//     time (see rewound and goneEntries), applies the entries' views and
//     moves the position in one transaction (two statements), and trims
//     what SQL now holds (one round trip);
//  2. it applies the views counted in process as a batch of their own;
//  3. with Redis answering, it drops the display counts of the products
//     whose views reached SQL without passing through Redis.
//
// Every view is applied exactly once, whatever fails or crashes in between
// (sqlstore.DB.ApplyViewLog, sqlstore.DB.ApplyViews). A failed step is retried at
// the next flush. Safe for concurrent use; flushes run one at a time.
func (c *Counter) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.stats.flushes.Add(1)
	var errs []error
	if c.opt.Redis != nil {
		if c.evictionCheckDue() {
			c.CheckEviction(ctx)
		}
		errs = append(errs, c.flushRedis(ctx))
	}
	errs = append(errs, c.flushLocal(ctx))
	if c.redisUp() {
		errs = append(errs, c.invalidateStale(ctx))
	}
	errs = append(errs, c.prune(ctx))
	err := errors.Join(errs...)
	if err == nil {
		c.stats.lastFlush.Store(time.Now().UnixNano())
	}
	return err
}

// maxLogRead bounds the log entries one flush reads and applies; a longer
// log is flushed again at once.
const maxLogRead = 10_000

// flushRedis applies the log entries after SQL's applied position. A read
// of the log that answers within Options.Timeout, the request path's bound,
// is what tells the request path that Redis answers again; a slower one,
// which FlushTimeout allows, leaves requests on SQL, so that a Redis that
// answers late is not tried by requests after every flush only to time out.
func (c *Counter) flushRedis(ctx context.Context) error {
	for try := 0; ; try++ {
		moved, err := c.flushLog(ctx)
		if !moved || err != nil || try == 2 {
			return err
		}
	}
}

// flushLog is one try of flushRedis. It reports moved when SQL's position
// had moved by the time of its commit (another instance's flush, or a
// commit of its own whose outcome it did not learn), and it applied
// nothing: the caller reads again.
func (c *Counter) flushLog(ctx context.Context) (moved bool, err error) {
	state, r, err := c.checkedLog(ctx)
	if err != nil {
		return false, err
	}
	c.opt.Redis.Confirm(state.Applied, nil)
	if len(r.Entries) == 0 {
		c.stats.redisQueued.Store(0)
		return false, nil
	}
	c.hook("after-read")
	next := store.ViewLogState{Applied: r.Through, Token: sqlstore.NewViewLogToken()}
	fctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	applied, err := c.opt.SQL.ApplyViewLog(fctx, state, next, r.Views, func() { c.hook("before-commit") })
	cancel()
	switch {
	case err != nil:
		c.known = nil // the commit's outcome is unknown: read SQL again
		return false, err
	case !applied:
		c.known = nil
		c.stats.replayed.Add(1)
		return true, nil
	}
	next.Prev = state.Token
	c.known = &next
	views := total(r.Views)
	c.stats.applied.Add(1)
	c.stats.flushed.Add(views)
	c.hook("after-commit")
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	err = c.opt.Redis.TrimLog(rctx, r.Through, next.Token, views)
	cancel()
	if err != nil {
		return false, err
	}
	c.hook("after-trim")
	c.opt.Redis.Confirm(r.Through, nil)
	c.stats.redisQueued.Store(0)
	if r.More {
		c.flushSoon()
	}
	return false, nil
}

// readLog reads SQL's state of the log (unless fresh is false and this
// counter's last flush left it known), then the entries this process
// appended and no flush confirmed yet, then the log after SQL's position:
// in that order, so that each of those entries, acknowledged before the
// read, must be in it unless Redis lost it. An idle flush thus costs one
// round trip and no SQL. When SQL fails, Redis is still probed, so that
// requests go back to Redis when it answers again.
func (c *Counter) readLog(ctx context.Context, fresh bool) (store.ViewLogState, redisstore.ViewLogRead, []redisstore.LedgerEntry, error) {
	var err error
	if fresh || c.known == nil {
		fctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
		state, serr := c.opt.SQL.ViewLog(fctx)
		cancel()
		if c.known, err = &state, serr; err != nil {
			c.known = nil
		}
	}
	var state store.ViewLogState
	max := 0 // a probe
	if c.known != nil {
		state, max = *c.known, maxLogRead
	}
	mine := c.opt.Redis.Unconfirmed()
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	r, rerr := c.opt.Redis.ReadLog(rctx, state.Applied, max)
	cancel()
	if rerr != nil {
		if ctx.Err() == nil {
			c.markDown(rerr)
		}
		return state, r, nil, rerr
	}
	if time.Since(start) <= c.opt.Timeout && c.down.Swap(false) {
		c.opt.Logger.Info("view counter: Redis answers again; counting views there")
		c.CheckEviction(ctx) // it may be another Redis, set up otherwise
	}
	return state, r, mine, err
}

// flushLocal applies the views counted in process. A batch that fails is
// kept and retried under the same id, so an unknown commit outcome cannot
// count it twice.
func (c *Counter) flushLocal(ctx context.Context) error {
	b := c.local.take()
	if b == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	defer cancel()
	applied, err := c.opt.SQL.ApplyViews(ctx, sqlstore.ViewBatch{ID: b.id, Deltas: b.views})
	if err != nil {
		return err
	}
	if applied {
		c.stats.flushed.Add(total(b.views))
	}
	c.stats.localBatches.Add(1)
	c.local.done(b)
	return nil
}

// invalidateStale drops the display counts that lack views counted in
// process, now that those views are in SQL.
func (c *Counter) invalidateStale(ctx context.Context) error {
	ids := c.local.takeStale()
	if len(ids) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	defer cancel()
	if err := c.opt.Redis.Invalidate(rctx, ids); err != nil {
		c.local.restale(ids)
		return err
	}
	return nil
}

// prune deletes old batch records, at most once an hour.
func (c *Counter) prune(ctx context.Context) error {
	if time.Since(c.lastPrune) < time.Hour {
		return nil
	}
	c.lastPrune = time.Now()
	_, err := c.opt.SQL.PruneViewBatches(ctx, time.Now().Add(-c.opt.Retention))
	return err
}

func (c *Counter) hook(point string) {
	store.At(context.Background(), c.opt.Faults, point, "", nil)
}

// Stats counts what a Counter did, for metrics, tests and diagnostics.
type Stats struct {
	Flushes      int64 // Flush calls
	Applied      int64 // reads of the Redis log this counter applied to SQL
	Replayed     int64 // reads it found applied first by another instance: no-ops
	LocalViews   int64 // views counted in process
	LocalBatches int64 // batches of those applied to SQL
	InitGaveUp   int64 // reads that served the SQL-based count after retries
	// Rewinds is how often a flush found Redis's log behind SQL, or lacking
	// entries, and repaired it; Recovered the views this process had
	// acknowledged that Redis lost, which it counted again (see recover).
	Rewinds, Recovered int64
	// LastRewind is when the last rewind was found; zero when none was.
	LastRewind time.Time
	// Flushed is the views this counter's flushes wrote to SQL.
	Flushed int64
	// Pending is the views waiting for a flush: those pending in Redis, of
	// every instance, as this counter last saw them (at its last recordView
	// or claim, so at most a FlushInterval old), plus those counted in
	// process and not yet in SQL.
	Pending int64
	// LastFlush is when the last Flush that fully succeeded ended; before
	// the first, when the counter was made.
	LastFlush time.Time
}

type counters struct {
	flushes, applied, replayed, localViews, localBatches, initGaveUp atomic.Int64
	flushed, redisQueued, lastFlush                                  atomic.Int64
	rewinds, recovered, lastRewind                                   atomic.Int64
}

// Stats returns the counts so far. It is safe for concurrent use.
func (c *Counter) Stats() Stats {
	s := &c.stats
	out := Stats{Flushes: s.flushes.Load(), Applied: s.applied.Load(), Replayed: s.replayed.Load(),
		LocalViews: s.localViews.Load(), LocalBatches: s.localBatches.Load(), InitGaveUp: s.initGaveUp.Load(),
		Flushed: s.flushed.Load(), Pending: s.redisQueued.Load() + c.local.pending(),
		LastFlush: time.Unix(0, s.lastFlush.Load()), Rewinds: s.rewinds.Load(), Recovered: s.recovered.Load()}
	if t := s.lastRewind.Load(); t != 0 {
		out.LastRewind = time.Unix(0, t)
	}
	return out
}

// total returns the sum of views' counts.
func total(views map[int64]int64) int64 {
	var n int64
	for _, v := range views {
		n += v
	}
	return n
}
