package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ViewBatch is a set of product views to add to products.hits, under an id
// that makes applying it idempotent.
type ViewBatch struct {
	// ID names the batch forever: view_batches keeps it as its primary key,
	// so it must never be reused (a random 128-bit id).
	ID     string
	Deltas map[int64]int64 // views by product id; zero and negative deltas are skipped
	// BeforeCommit, when set, runs after the UPDATE and before COMMIT. It is
	// a hook for crash tests.
	BeforeCommit func()
}

// maxViewRows bounds the products of one flush UPDATE. At two parameters a
// row it stays under SQLite's 32766 and PostgreSQL's 65535 bind parameters.
const maxViewRows = 5000

// ApplyViews adds the views of b to products.hits, exactly once per batch
// id: in one transaction it records b.ID in view_batches, whose primary key
// makes a second apply of the same id insert nothing, and only then adds the
// views. It reports whether this call applied the batch; false with a nil
// error means the batch had been applied before, and nothing changed.
//
// Products that no longer exist are skipped (the UPDATE matches no row for
// them) and the batch is still recorded, so a deleted product's views are
// dropped and never retried. Statements: one INSERT, then one UPDATE per
// 5,000 products, none when the batch was applied before; all in one
// transaction. Safe for concurrent use, also from several processes: a
// concurrent apply of the same id waits for the first one's transaction on
// the primary key, then inserts nothing.
func (d *DB) ApplyViews(ctx context.Context, b ViewBatch) (bool, error) {
	// Background work of thousands of rows: the caller's deadline bounds it,
	// not the statement timeout meant for the request path.
	ctx = bulk(ctx, max(d.timeout, 30*time.Second))
	ids, views := sortedDeltas(b.Deltas)
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: apply views %s: %w", b.ID, err)
	}
	defer tx.Rollback()
	res, err := d.exec(ctx, tx, `
		INSERT INTO view_batches (batch_id, applied_at, products, views) VALUES (?, ?, ?, ?)
		ON CONFLICT (batch_id) DO NOTHING`, b.ID, time.Now().UnixMicro(), len(ids), views)
	if err != nil {
		return false, fmt.Errorf("store: apply views %s: record batch: %w", b.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("store: apply views %s: record batch: %w", b.ID, err)
	} else if n == 0 {
		return false, nil // applied before: the batch is in view_batches
	}
	for start := 0; start < len(ids); start += maxViewRows {
		chunk := ids[start:min(start+maxViewRows, len(ids))]
		if err := d.addHits(ctx, tx, chunk, b.Deltas); err != nil {
			return false, fmt.Errorf("store: apply views %s: %w", b.ID, err)
		}
	}
	if b.BeforeCommit != nil {
		b.BeforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: apply views %s: commit: %w", b.ID, err)
	}
	return true, nil
}

// sortedDeltas returns the ids with a positive delta in ascending order, so
// that concurrent flushes lock rows in the same order, and the total views.
func sortedDeltas(deltas map[int64]int64) ([]int64, int64) {
	ids := make([]int64, 0, len(deltas))
	var views int64
	for id, n := range deltas {
		if n > 0 {
			ids = append(ids, id)
			views += n
		}
	}
	slices.Sort(ids)
	return ids, views
}

// addHits is the flush statement: one UPDATE … FROM a VALUES list, in the
// form both PostgreSQL and SQLite (≥ 3.33) accept. SQLite rejects a column
// list on a VALUES alias, hence the CTE; PostgreSQL types untyped VALUES
// parameters as text, hence the casts. ids holds no duplicates.
func (d *DB) addHits(ctx context.Context, tx *sqlx.Tx, ids []int64, deltas map[int64]int64) error {
	var q strings.Builder
	q.WriteString("WITH v(id, n) AS (VALUES ")
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
		args = append(args, id, deltas[id])
	}
	q.WriteString(") UPDATE products SET hits = products.hits + v.n FROM v WHERE products.id = v.id")
	if _, err := d.exec(ctx, tx, q.String(), args...); err != nil {
		return fmt.Errorf("add hits: %w", err)
	}
	return nil
}

// ViewBase reads, in one statement and so from one snapshot, the hits of
// the products among ids that exist, and which of batchIDs are recorded as
// applied. The view counter needs both from the same snapshot: a batch that
// is applied there is already in those hits. It sends one statement, none
// when both lists are empty.
func (d *DB) ViewBase(ctx context.Context, ids []int64, batchIDs []string) (map[int64]int64, map[string]bool, error) {
	hits := make(map[int64]int64, len(ids))
	applied := make(map[string]bool, len(batchIDs))
	if len(ids) == 0 && len(batchIDs) == 0 {
		return hits, applied, nil
	}
	query := `SELECT id, hits, '' AS batch_id FROM products WHERE id ` + d.anyID
	args := []any{d.idsArg(ids)}
	if len(batchIDs) > 0 {
		query += ` UNION ALL SELECT 0, 0, batch_id FROM view_batches WHERE batch_id ` + d.anyID
		args = append(args, d.strsArg(batchIDs))
	}
	var rows []struct {
		ID      int64  `db:"id"`
		Hits    int64  `db:"hits"`
		BatchID string `db:"batch_id"`
	}
	if err := d.selectx(ctx, d.db, &rows, query, args...); err != nil {
		return nil, nil, fmt.Errorf("store: view base: %w", err)
	}
	for _, r := range rows {
		if r.BatchID != "" {
			applied[r.BatchID] = true
		} else {
			hits[r.ID] = r.Hits
		}
	}
	return hits, applied, nil
}

// PruneViewBatches deletes the records of batches applied before the given
// time, in one statement, and returns how many it deleted. A record must
// outlive every chance that its batch is applied again, so keep it far
// longer than a batch can stay claimed and unacknowledged in Redis.
func (d *DB) PruneViewBatches(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.exec(ctx, d.db, `DELETE FROM view_batches WHERE applied_at < ?`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: prune view batches: %w", err)
	}
	return res.RowsAffected()
}

// strsArg encodes strings as the single argument of the anyID predicate: an
// array for PostgreSQL, a JSON array for SQLite's json_each.
func (d *DB) strsArg(s []string) any {
	if d.dialect == Postgres {
		return s
	}
	b, _ := json.Marshal(s) // a []string always encodes
	return string(b)
}
