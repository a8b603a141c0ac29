package views

import (
	"context"
	"errors"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// Redis going back in time (docs/VIEWS.md): a flush checks that Redis's
// view log matches SQL's state before it applies anything, repairs a log
// that went back, and counts again the views this process acknowledged
// that Redis lost.

// maxLogChecks bounds the reads of a flush that finds Redis's log not
// matching SQL while other instances keep flushing.
const maxLogChecks = 10

// checkedLog reads the log after SQL's position and makes sure Redis did
// not go back in time. When the log does not match SQL (see consistent),
// it reads both again, a moment later: only when SQL stood still across
// that pause (no other instance's flush can explain the mismatch) does it
// repair the log, then read it again. A log that matches SQL but lacks
// entries this process appended: those views are counted again, in
// process (see recover).
func (c *Counter) checkedLog(ctx context.Context) (store.ViewLogState, redisstore.ViewLogRead, error) {
	state, r, mine, err := c.readLog(ctx, false)
	var last store.ViewLogState // SQL's state at the previous read, a pause ago
	for try := 0; err == nil; try++ {
		if consistent(state, r) {
			if gone := goneEntries(mine, state.Applied, r); len(gone) > 0 {
				return state, r, c.recover(ctx, state, r, gone)
			}
			return state, r, nil
		}
		switch {
		case try >= maxLogChecks:
			return state, r, errors.New("views: Redis's view log does not match SQL's position; flushing again later")
		case try >= 2 && last == state:
			if err := c.repair(ctx, state, r); err != nil {
				return state, r, err
			}
		}
		if try >= 1 { // the first read may have used the state last known
			last = state
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return state, r, ctx.Err()
			}
		}
		state, r, mine, err = c.readLog(ctx, true)
	}
	return state, r, err
}

// consistent reports whether Redis's log matches SQL's state: its token is
// the one SQL committed last, or the one before (that commit's trim has not
// landed, or never will: the flusher stopped between the two), and the last
// entry it ever appended is not before SQL's position. A Redis restored
// from a snapshot older than the last flush but one, a replica promoted
// while it lagged as much, or a Redis that lost its data, does not match.
// The entries after SQL's position are then all in the log, but for those
// Redis lost: a trim that could have removed them (a later flush's) would
// have copied a newer token.
func consistent(state store.ViewLogState, r redisstore.ViewLogRead) bool {
	return (r.Token == state.Token || r.Token == state.Prev) && !r.Last.Less(state.Applied)
}

// goneEntries returns the entries this process appended after SQL's
// position that the read should have found and did not: Redis lost them.
// The read must be consistent with SQL, else a concurrent flush's trim
// could pass for a loss.
func goneEntries(mine []redisstore.LedgerEntry, applied store.LogPos, r redisstore.ViewLogRead) []redisstore.LedgerEntry {
	found := make(map[store.LogPos]bool, len(r.Entries))
	for _, p := range r.Entries {
		found[p] = true
	}
	var gone []redisstore.LedgerEntry
	for _, e := range mine {
		reached := !r.More || !r.Through.Less(e.Pos) // a read stopped at its limit did not reach later entries
		if applied.Less(e.Pos) && reached && !found[e.Pos] {
			gone = append(gone, e)
		}
	}
	return gone
}

// repair realigns a log that went back in time with SQL, whose position
// then makes every entry SQL already holds be skipped, and drops the
// display counts, which may be behind what clients were shown. It logs
// once, as a WARN: which views Redis lost, if any, is told by the next read
// (see recover).
func (c *Counter) repair(ctx context.Context, state store.ViewLogState, r redisstore.ViewLogRead) error {
	c.stats.rewinds.Add(1)
	c.stats.lastRewind.Store(time.Now().UnixNano())
	c.opt.Logger.Warn("view counter: Redis's view log is behind SQL (Redis restored from an older snapshot, failed "+
		"over to a replica that lagged, restarted without its data, or a flush stopped between its commit and its "+
		"trim); entries SQL holds are skipped, display counts made again",
		"sql_position", state.Applied.String(), "redis_last", r.Last.String(), "redis_exists", r.Exists)
	rctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
	defer cancel()
	return c.opt.Redis.RepairLog(rctx, state)
}

// recover counts again, in process, the views of entries that this process
// appended and Redis lost (a restore, a failover or a restart took them
// back before any flush applied them): they were acknowledged, and the
// next flushLocal applies them to SQL exactly once, under a batch id of
// their own. It drops the display counts, which lost those views too.
// Views that Redis lost and whose process is gone (stopped, crashed, or
// past the ledger's bound) cannot be known: they are the documented loss.
func (c *Counter) recover(ctx context.Context, state store.ViewLogState, r redisstore.ViewLogRead, gone []redisstore.LedgerEntry) error {
	views := map[int64]int64{}
	positions := make([]store.LogPos, len(gone))
	var n int64
	for i, e := range gone {
		positions[i] = e.Pos
		for _, id := range e.IDs {
			views[id]++
			n++
		}
	}
	c.local.addViews(views)
	c.opt.Redis.Confirm(state.Applied, positions)
	c.stats.recovered.Add(n)
	c.opt.Logger.Error("view counter: Redis lost views it had acknowledged (restored from an older snapshot, failed "+
		"over to a replica that lagged, or restarted without its data); this process remembered them and counts "+
		"them again", "views", n, "entries", len(gone), "sql_position", state.Applied.String(), "redis_last", r.Last.String())
	if err := c.repair(ctx, state, r); err != nil {
		return err
	}
	return nil
}
