package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"catalog-bff/store"
)

// NewViewLogToken returns a fresh token for a flush: random, never reused.
func NewViewLogToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// ViewLog returns the view log's applied position and token. One statement.
func (d *DB) ViewLog(ctx context.Context) (store.ViewLogState, error) {
	var row struct {
		Position string `db:"position"`
		Token    string `db:"token"`
		Prev     string `db:"prev_token"`
	}
	if err := d.get(ctx, d.db, &row, `SELECT position, token, prev_token FROM view_log WHERE name = 'views'`); err != nil {
		return store.ViewLogState{}, fmt.Errorf("store: view log: %w", err)
	}
	pos, err := store.ParseLogPos(row.Position)
	if err != nil {
		return store.ViewLogState{}, err
	}
	return store.ViewLogState{Applied: pos, Token: row.Token, Prev: row.Prev}, nil
}

// ApplyViewLog adds deltas, the views of the log's entries after from.Applied
// up to and including to.Applied, to products.hits, and moves the applied
// position and token from `from` to `to` (from's token becoming the
// previous one; to.Prev is ignored), in one transaction. It reports
// false, changing nothing, when SQL no longer holds `from`: another flush
// moved the position first, and the caller reads it again. So every entry is
// applied once, whichever instances flush, retry or crash. Products that no
// longer exist are skipped. Statements: one UPDATE of the position, then one
// UPDATE of hits per 5,000 products (none when the position had moved).
func (d *DB) ApplyViewLog(ctx context.Context, from, to store.ViewLogState, deltas map[int64]int64, beforeCommit func()) (bool, error) {
	ctx = bulk(ctx, max(d.timeout, 30*time.Second))
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: apply view log: %w", err)
	}
	defer tx.Rollback()
	// First, so that the row's lock orders concurrent flushes: the second
	// waits for the first to commit, then finds the position moved.
	res, err := d.exec(ctx, tx, `UPDATE view_log SET position = ?, token = ?, prev_token = ?, updated_at = ?
		WHERE name = 'views' AND position = ? AND token = ?`,
		to.Applied.String(), to.Token, from.Token, time.Now().UnixMicro(), from.Applied.String(), from.Token)
	if err != nil {
		return false, fmt.Errorf("store: apply view log: move position: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("store: apply view log: move position: %w", err)
	} else if n == 0 {
		return false, nil
	}
	ids, _ := sortedDeltas(deltas)
	for start := 0; start < len(ids); start += maxViewRows {
		if err := d.addHits(ctx, tx, ids[start:min(start+maxViewRows, len(ids))], deltas); err != nil {
			return false, fmt.Errorf("store: apply view log: %w", err)
		}
	}
	if beforeCommit != nil {
		beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: apply view log: commit: %w", err)
	}
	return true, nil
}

// ViewLogBase reads, in one statement and so from one snapshot, the hits of
// the products among ids that exist and the view log's applied position:
// the views of every entry up to that position are in those hits, and none
// after it.
func (d *DB) ViewLogBase(ctx context.Context, ids []int64) (map[int64]int64, store.LogPos, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Hits     int64  `db:"hits"`
		Position string `db:"position"`
	}
	err := d.selectx(ctx, d.db, &rows, `SELECT id, hits, '' AS position FROM products WHERE id `+d.anyID+`
		UNION ALL SELECT 0, 0, position FROM view_log WHERE name = 'views'`, d.idsArg(ids))
	if err != nil {
		return nil, store.LogPos{}, fmt.Errorf("store: view log base: %w", err)
	}
	hits := make(map[int64]int64, len(ids))
	var pos store.LogPos
	for _, r := range rows {
		if r.Position == "" {
			hits[r.ID] = r.Hits
		} else if pos, err = store.ParseLogPos(r.Position); err != nil {
			return nil, store.LogPos{}, err
		}
	}
	return hits, pos, nil
}
