package loaders

import (
	"context"
	"log/slog"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// CacheInvalidator delivers the invalidations that writes queue in the outbox.
// A write's own request delivers them right after its commit (Invalidate);
// Run delivers whatever that missed: Redis was away, or the process died
// between the commit and the Redis call. Several instances may run it at
// once: delivery is idempotent, because markers only move versions forward.
//
// It also keeps the cache honest about what it missed. While invalidations
// are pending the cache's reads are fenced (see Cache), and Run lets them
// back in only once the outbox is empty and Redis answers. When the outbox
// backs up past MaxPending, Run abandons the cache generation instead: every
// instance starts cold rather than stale.
type CacheInvalidator struct {
	db    *sqlstore.DB
	cache *redisstore.Cache
	opt   CacheInvalidatorOptions
}

// CacheInvalidatorOptions tunes an CacheInvalidator. Zero fields take the defaults.
type CacheInvalidatorOptions struct {
	Interval   time.Duration // between delivery rounds of Run; default 250ms
	MaxPending int64         // outbox size that abandons the cache; default 10,000
	Batch      int           // invalidations per round trip; default 500
	Logger     *slog.Logger
}

// NewCacheInvalidator returns an CacheInvalidator that delivers db's outbox to cache.
func NewCacheInvalidator(db *sqlstore.DB, cache *redisstore.Cache, opt CacheInvalidatorOptions) *CacheInvalidator {
	if opt.Interval <= 0 {
		opt.Interval = 250 * time.Millisecond
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 10_000
	}
	if opt.Batch <= 0 {
		opt.Batch = 500
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &CacheInvalidator{db: db, cache: cache, opt: opt}
}

// Invalidate delivers invs to the cache now and removes them from the
// outbox. If the cache fails, they stay queued, reads are fenced, and Run
// delivers them later; the error says so, but the write itself stands.
func (iv *CacheInvalidator) Invalidate(ctx context.Context, invs []store.Invalidation) error {
	if err := iv.cache.Invalidate(ctx, invs); err != nil {
		return err
	}
	return iv.db.AckInvalidations(ctx, invs)
}

// Run delivers the outbox every Interval until ctx is done.
func (iv *CacheInvalidator) Run(ctx context.Context) {
	t := time.NewTicker(iv.opt.Interval)
	defer t.Stop()
	for {
		if err := iv.Drain(ctx); err != nil && ctx.Err() == nil {
			iv.opt.Logger.Debug("invalidations not delivered yet", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Drain follows the cache generation, delivers every pending invalidation,
// and then, when the outbox is empty and Redis answers, opens reads again.
// It returns the first error; what it could not deliver stays queued.
func (iv *CacheInvalidator) Drain(ctx context.Context) error {
	if err := iv.syncGeneration(ctx); err != nil {
		return err
	}
	fenced, epoch := iv.cache.Fenced()
	for {
		invs, err := iv.db.PendingInvalidations(ctx, iv.opt.Batch)
		if err != nil {
			return err
		}
		if len(invs) == 0 {
			break
		}
		if len(invs) == iv.opt.Batch {
			if abandoned, err := iv.abandonIfBacklogged(ctx); abandoned || err != nil {
				return err
			}
		}
		if err := iv.Invalidate(ctx, invs); err != nil {
			return err
		}
	}
	if !fenced {
		return nil
	}
	if err := iv.cache.Ping(ctx); err != nil {
		return err
	}
	if iv.cache.UnfenceIf(epoch) {
		iv.opt.Logger.Info("cache reads resumed: every pending invalidation is delivered")
	}
	return nil
}

func (iv *CacheInvalidator) syncGeneration(ctx context.Context) error {
	gen, err := iv.db.CacheGeneration(ctx)
	if err != nil {
		return err
	}
	if gen != iv.cache.Generation() {
		iv.opt.Logger.Warn("cache generation changed: starting from an empty cache", "generation", gen)
		iv.cache.SetGeneration(gen)
	}
	return nil
}

// abandonIfBacklogged abandons the cache generation when the outbox holds
// more than MaxPending invalidations. Reads stay fenced until the next
// round confirms that Redis answers.
func (iv *CacheInvalidator) abandonIfBacklogged(ctx context.Context) (bool, error) {
	n, err := iv.db.OutboxSize(ctx)
	if err != nil || n <= iv.opt.MaxPending {
		return false, err
	}
	gen, err := iv.db.AbandonCache(ctx)
	if err != nil {
		return false, err
	}
	iv.opt.Logger.Warn("outbox backed up: abandoned the cache generation", "pending", n, "generation", gen)
	iv.cache.SetGeneration(gen)
	return true, nil
}
