package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LogPos is a position in the view log: a Redis Stream entry id, ms-seq.
// The zero LogPos is before every entry.
type LogPos struct{ Ms, Seq uint64 }

// ParseLogPos parses an entry id as Redis writes it ("1733300000000-3").
func ParseLogPos(s string) (LogPos, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return LogPos{}, fmt.Errorf("store: bad view log position %q", s)
	}
	return LogPos{a, b}, nil
}

func (p LogPos) String() string {
	return strconv.FormatUint(p.Ms, 10) + "-" + strconv.FormatUint(p.Seq, 10)
}

// Less reports whether p comes before q.
func (p LogPos) Less(q LogPos) bool { return p.Ms < q.Ms || p.Ms == q.Ms && p.Seq < q.Seq }

// IsZero reports whether p is before every entry.
func (p LogPos) IsZero() bool { return p == LogPos{} }

// ViewLogState is what SQL holds of the view log: the last entry whose views
// are in products.hits, the token of the flush that applied it, and the
// token before that one.
type ViewLogState struct {
	Applied LogPos
	Token   string
	Prev    string
}

// NewViewLogToken returns a fresh token for a flush: random, never reused.
func NewViewLogToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// ViewLog returns the view log's applied position and token. One statement.
func (d *DB) ViewLog(ctx context.Context) (ViewLogState, error) {
	var row struct {
		Position string `db:"position"`
		Token    string `db:"token"`
		Prev     string `db:"prev_token"`
	}
	if err := d.get(ctx, d.db, &row, `SELECT position, token, prev_token FROM view_log WHERE name = 'views'`); err != nil {
		return ViewLogState{}, fmt.Errorf("store: view log: %w", err)
	}
	pos, err := ParseLogPos(row.Position)
	if err != nil {
		return ViewLogState{}, err
	}
	return ViewLogState{Applied: pos, Token: row.Token, Prev: row.Prev}, nil
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
func (d *DB) ApplyViewLog(ctx context.Context, from, to ViewLogState, deltas map[int64]int64, beforeCommit func()) (bool, error) {
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
func (d *DB) ViewLogBase(ctx context.Context, ids []int64) (map[int64]int64, LogPos, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Hits     int64  `db:"hits"`
		Position string `db:"position"`
	}
	err := d.selectx(ctx, d.db, &rows, `SELECT id, hits, '' AS position FROM products WHERE id `+d.anyID+`
		UNION ALL SELECT 0, 0, position FROM view_log WHERE name = 'views'`, d.idsArg(ids))
	if err != nil {
		return nil, LogPos{}, fmt.Errorf("store: view log base: %w", err)
	}
	hits := make(map[int64]int64, len(ids))
	var pos LogPos
	for _, r := range rows {
		if r.Position == "" {
			hits[r.ID] = r.Hits
		} else if pos, err = ParseLogPos(r.Position); err != nil {
			return nil, LogPos{}, err
		}
	}
	return hits, pos, nil
}
