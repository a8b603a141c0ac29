package views

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"catalog-bff/store/sqlstore"
)

// When the process stops, the views it counted in process (REDIS_URL=off,
// or while Redis was away) must reach SQL. drain retries the final flush
// until DrainTimeout (or DrainBy, if sooner); what SQL still has not taken
// is written to SpillFile, each batch under the id it would have been
// applied with, and the next start applies the file before anything else.
// Applying a batch is idempotent by its id (sqlstore.DB.ApplyViews), so a
// spill applied, then applied again after a crash before the file was
// removed, counts once.

// spilled is the file's form of one batch.
type spilled struct {
	ID    string          `json:"id"`
	Views map[int64]int64 `json:"views"`
}

// DrainBy, as the cause with which Run's context is cancelled
// (context.WithCancelCause), ends the drain at that time when it comes
// before DrainTimeout does: a service gives the drain what is left of its
// stop's deadline.
type DrainBy time.Time

func (d DrainBy) Error() string {
	return "views: stopping; drain by " + time.Time(d).Format(time.RFC3339Nano)
}

// drain flushes until no view counted in process waits, or until
// DrainTimeout (or DrainBy, if sooner); then it spills what is left. It
// returns the views neither SQL nor the spill file took.
func (c *Counter) drain(ctx context.Context) int64 {
	start := time.Now()
	deadline := start.Add(c.opt.DrainTimeout)
	var by DrainBy
	if errors.As(context.Cause(ctx), &by) && time.Time(by).Before(deadline) {
		deadline = time.Time(by)
	}
	for {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(c.opt.FlushTimeout, time.Until(deadline)))
		err := errors.Join(c.replaySpill(fctx), c.Flush(fctx))
		cancel()
		left := c.local.pending()
		if left == 0 {
			if err != nil { // a spill file or a batch that another instance may apply
				c.opt.Logger.Warn("view counter drained; a step failed", "took", time.Since(start).Round(time.Millisecond), "err", err)
			} else {
				c.opt.Logger.Info("view counter drained", "took", time.Since(start).Round(time.Millisecond))
			}
			return 0
		}
		if !time.Now().Add(500 * time.Millisecond).Before(deadline) {
			return c.spillLeft(left, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// spillLeft writes what the drain could not flush to the spill file, and
// says so; it returns the views lost when even that failed.
func (c *Counter) spillLeft(left int64, flushErr error) int64 {
	if err := c.spill(); err != nil {
		c.opt.Logger.Error("view counter: acknowledged views lost: SQL and the spill file both failed",
			"views", left, "flush_err", flushErr, "spill_err", err, "file", c.opt.SpillFile)
		return left
	}
	c.opt.Logger.Warn("view counter: SQL did not take every view before the drain deadline; "+
		"the rest are in the spill file, which the next start applies", "views", left, "file", c.opt.SpillFile,
		"err", flushErr)
	return 0
}

// spill adds the views held in process to the spill file, replacing it
// atomically.
func (c *Counter) spill() error {
	if c.opt.SpillFile == "" {
		return errors.New("no spill file configured")
	}
	batches, err := readSpill(c.opt.SpillFile)
	if err != nil {
		return err
	}
	for _, b := range c.local.snapshotAll() {
		batches = append(batches, spilled{ID: b.id, Views: b.views})
	}
	data, err := json.Marshal(batches)
	if err != nil {
		return err
	}
	tmp := c.opt.SpillFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.opt.SpillFile)
}

// replaySpill applies a spill file left by an earlier process, then
// removes it. On error the file stays, for the next flush to try again.
func (c *Counter) replaySpill(ctx context.Context) error {
	if c.opt.SpillFile == "" {
		return nil
	}
	batches, err := readSpill(c.opt.SpillFile)
	if err != nil || len(batches) == 0 {
		return err
	}
	var views int64
	for _, b := range batches {
		fctx, cancel := context.WithTimeout(ctx, c.opt.FlushTimeout)
		applied, err := c.opt.SQL.ApplyViews(fctx, sqlstore.ViewBatch{ID: b.ID, Deltas: b.Views})
		cancel()
		if err != nil {
			return fmt.Errorf("views: replay %s: %w", c.opt.SpillFile, err)
		}
		if applied {
			views += total(b.Views)
			c.stats.flushed.Add(total(b.Views))
		}
	}
	if err := os.Remove(c.opt.SpillFile); err != nil {
		return err
	}
	c.opt.Logger.Info("view counter: applied the views a stopped process spilled", "views", views,
		"batches", len(batches), "file", c.opt.SpillFile)
	return nil
}

// readSpill reads a spill file; a missing one holds nothing.
func readSpill(path string) ([]spilled, error) {
	data, err := os.ReadFile(filepath.Clean(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var batches []spilled
	if err := json.Unmarshal(data, &batches); err != nil {
		return nil, fmt.Errorf("views: spill file %s: %w", path, err)
	}
	return batches, nil
}

// Lost returns the acknowledged views that the last drain could not write
// to SQL or to the spill file.
func (c *Counter) Lost() int64 { return c.lost.Load() }
