package views

import (
	"context"
	"time"
)

// A Redis that may evict keys without a TTL (an allkeys- maxmemory-policy)
// would drop the view log with acknowledged views in it. The counter asks
// Options.MayEvict at start (CheckEviction), then at least every
// Options.EvictionCheck from the flusher and whenever Redis answers again
// after a failure (a failover may bring a Redis set up otherwise). While
// Redis may evict, views are counted in process and flushed straight to
// SQL, as without Redis; what the log already holds is still flushed.

// CheckEviction asks Options.MayEvict whether Redis may evict the counter's
// keys, switches where views are counted accordingly, and logs a change:
// an ERROR naming the policy when counting leaves Redis, an INFO when it
// comes back. A failed check changes nothing.
func (c *Counter) CheckEviction(ctx context.Context) {
	if c.opt.MayEvict == nil || c.opt.Redis == nil {
		return
	}
	c.lastEvictionCheck.Store(time.Now().UnixNano())
	policy, evicts, err := c.opt.MayEvict(ctx)
	switch {
	case err != nil:
		c.opt.Logger.Debug("view counter: Redis's maxmemory-policy not known", "err", err)
	case evicts && !c.evicting.Swap(true):
		c.opt.Logger.Error("Redis may evict the view counter's keys (maxmemory-policy "+policy+
			"): views are counted in process and flushed straight to SQL; set maxmemory-policy to noeviction "+
			"or a volatile- policy to count them in Redis", "maxmemory-policy", policy)
	case !evicts && c.evicting.Swap(false):
		c.opt.Logger.Info("view counter: Redis no longer evicts keys without a TTL; counting views there",
			"maxmemory-policy", policy)
	}
}

// evictionCheckDue reports whether the flusher should check the policy again.
func (c *Counter) evictionCheckDue() bool {
	return time.Since(time.Unix(0, c.lastEvictionCheck.Load())) >= c.opt.EvictionCheck
}
