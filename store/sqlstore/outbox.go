package sqlstore

import (
	"context"
	"fmt"
	"time"

	"catalog-bff/store"

	"github.com/jmoiron/sqlx"
)

// EnableOutbox makes every write queue its invalidations in the outbox, in
// its own transaction. Enable it when there is a cache to invalidate, and
// run an Invalidator to deliver them.
func (d *DB) EnableOutbox() { d.outbox = true }

// enqueue queues invs in the outbox within tx, and sets their Seq.
func (d *DB) enqueue(ctx context.Context, tx *sqlx.Tx, invs []store.Invalidation) error {
	if !d.outbox {
		return nil
	}
	now := time.Now().UnixMicro()
	for i := range invs {
		err := d.get(ctx, tx, &invs[i].Seq, `
			INSERT INTO cache_outbox (kind, entity_id, version, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			invs[i].Kind, invs[i].ID, invs[i].Version, now)
		if err != nil {
			return fmt.Errorf("queue invalidation: %w", err)
		}
	}
	return nil
}

// PendingInvalidations returns up to limit queued invalidations, oldest
// first, in one statement.
func (d *DB) PendingInvalidations(ctx context.Context, limit int) ([]store.Invalidation, error) {
	var rows []struct {
		Seq     int64  `db:"id"`
		Kind    string `db:"kind"`
		ID      int64  `db:"entity_id"`
		Version int64  `db:"version"`
	}
	err := d.selectx(ctx, d.db, &rows, `
		SELECT id, kind, entity_id, version FROM cache_outbox ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending invalidations: %w", err)
	}
	invs := make([]store.Invalidation, len(rows))
	for i, r := range rows {
		invs[i] = store.Invalidation{Kind: store.Kind(r.Kind), ID: r.ID, Version: r.Version, Seq: r.Seq}
	}
	return invs, nil
}

// AckInvalidations removes delivered invalidations from the outbox, in one
// statement. Invalidations that were never queued (Seq 0) are skipped.
func (d *DB) AckInvalidations(ctx context.Context, invs []store.Invalidation) error {
	seqs := make([]int64, 0, len(invs))
	for _, inv := range invs {
		if inv.Seq != 0 {
			seqs = append(seqs, inv.Seq)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	if _, err := d.exec(ctx, d.db, `DELETE FROM cache_outbox WHERE id `+d.anyID, d.idsArg(seqs)); err != nil {
		return fmt.Errorf("store: ack invalidations: %w", err)
	}
	return nil
}

// OutboxSize counts the queued invalidations.
func (d *DB) OutboxSize(ctx context.Context) (int64, error) {
	var n int64
	if err := d.get(ctx, d.db, &n, `SELECT COUNT(*) FROM cache_outbox`); err != nil {
		return 0, fmt.Errorf("store: outbox size: %w", err)
	}
	return n, nil
}

// CacheGeneration returns the cache key generation every instance uses.
func (d *DB) CacheGeneration(ctx context.Context) (int64, error) {
	var gen int64
	if err := d.get(ctx, d.db, &gen, `SELECT generation FROM cache_state WHERE id = 1`); err != nil {
		return 0, fmt.Errorf("store: cache generation: %w", err)
	}
	return gen, nil
}

// AbandonCache moves every instance to a new, empty cache key space and
// empties the outbox, in one transaction: entries of the old generation are
// never read again, so none of the queued invalidations is needed. It
// returns the new generation.
func (d *DB) AbandonCache(ctx context.Context) (int64, error) {
	var gen int64
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := d.exec(ctx, tx, `DELETE FROM cache_outbox`); err != nil {
			return err
		}
		return d.get(ctx, tx, &gen, `UPDATE cache_state SET generation = generation + 1 WHERE id = 1 RETURNING generation`)
	})
	if err != nil {
		return 0, fmt.Errorf("store: abandon cache: %w", err)
	}
	return gen, nil
}
