package views

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"catalog-bff/store"
)

// Run is the flusher: it applies a spill file an earlier process left,
// flushes once at start, which re-applies any batch a crashed process left
// claimed, then every FlushInterval, and sooner when more than FlushMax
// views wait. When ctx is done it drains: it retries the final flush until
// DrainTimeout, spills what SQL did not take (see drain) and returns.
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
//  1. with Redis, it claims the pending views as a new batch (one round
//     trip), applies every claimed batch (the new one and any left by a
//     crash or by another instance: at most two statements each, one
//     INSERT and one UPDATE, in one transaction) and acknowledges each (one
//     round trip each);
//  2. it applies the views counted in process as a batch of their own;
//  3. with Redis answering, it drops the display counts of the products
//     whose views reached SQL without passing through Redis.
//
// Every batch is applied exactly once, whatever fails or crashes in
// between (store.DB.ApplyViews). A failed step is retried at the next
// flush. Safe for concurrent use; flushes run one at a time.
func (c *Counter) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.stats.flushes.Add(1)
	var errs []error
	if c.opt.Redis != nil {
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

// flushRedis claims, applies and acknowledges. A claim that answers within
// Options.Timeout, the request path's bound, is what tells the request
// path that Redis answers again; a slower one, which FlushTimeout allows,
// leaves requests on SQL, so that a Redis that answers late is not tried
// by requests after every flush only to time out.
func (c *Counter) flushRedis(ctx context.Context) error {
	id := newBatchID()
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	claim, err := c.opt.Redis.Claim(rctx, id)
	cancel()
	if err != nil {
		c.markDown(err)
		return err
	}
	if time.Since(start) <= c.opt.Timeout && c.down.Swap(false) {
		c.opt.Logger.Info("view counter: Redis answers again; counting views there")
	}
	c.stats.redisQueued.Store(0) // the claim took every pending view
	if len(claim.Views) > 0 {
		c.hook("after-claim")
	}
	var errs []error
	for _, b := range claim.Claimed { // oldest first; the new batch is last
		views := claim.Views
		if b != id {
			if views, err = c.batch(ctx, b); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, c.applyClaimed(ctx, b, views))
	}
	return errors.Join(errs...)
}

func (c *Counter) batch(ctx context.Context, id string) (map[int64]int64, error) {
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	defer cancel()
	return c.opt.Redis.Batch(rctx, id)
}

// applyClaimed applies a claimed batch, then acknowledges it. A batch found
// empty was acknowledged meanwhile; acknowledging it again is harmless.
func (c *Counter) applyClaimed(ctx context.Context, id string, views map[int64]int64) error {
	if len(views) > 0 {
		if err := c.apply(ctx, id, views); err != nil {
			return err
		}
		c.hook("after-commit")
	}
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	defer cancel()
	if err := c.opt.Redis.Ack(rctx, id); err != nil {
		return err
	}
	if len(views) > 0 {
		c.hook("after-ack")
	}
	return nil
}

func (c *Counter) apply(ctx context.Context, id string, views map[int64]int64) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	defer cancel()
	applied, err := c.opt.SQL.ApplyViews(ctx, store.ViewBatch{ID: id, Deltas: views,
		BeforeCommit: func() { c.hook("before-commit") }})
	switch {
	case err != nil:
		return err
	case applied:
		c.stats.applied.Add(1)
		c.stats.flushed.Add(total(views))
	default:
		c.stats.replayed.Add(1)
	}
	return nil
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
	applied, err := c.opt.SQL.ApplyViews(ctx, store.ViewBatch{ID: b.id, Deltas: b.views})
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
	Applied      int64 // Redis batches this counter applied to SQL
	Replayed     int64 // Redis batches it found already applied: no-ops
	LocalViews   int64 // views counted in process
	LocalBatches int64 // batches of those applied to SQL
	InitGaveUp   int64 // reads that served the SQL-based count after retries
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
}

// Stats returns the counts so far. It is safe for concurrent use.
func (c *Counter) Stats() Stats {
	s := &c.stats
	return Stats{Flushes: s.flushes.Load(), Applied: s.applied.Load(), Replayed: s.replayed.Load(),
		LocalViews: s.localViews.Load(), LocalBatches: s.localBatches.Load(), InitGaveUp: s.initGaveUp.Load(),
		Flushed: s.flushed.Load(), Pending: s.redisQueued.Load() + c.local.pending(),
		LastFlush: time.Unix(0, s.lastFlush.Load())}
}

// total returns the sum of views' counts.
func total(views map[int64]int64) int64 {
	var n int64
	for _, v := range views {
		n += v
	}
	return n
}
