package sqlstore

import (
	"context"
	"fmt"

	"catalog-bff/store"
)

// Versions returns the versions of the rows of ids that exist, in one
// statement.
func (d *DB) Versions(ctx context.Context, kind store.Kind, ids []int64) (map[int64]int64, error) {
	table, ok := kind.Table()
	if !ok {
		return nil, fmt.Errorf("store: versions: unknown kind %q", kind)
	}
	var rows []struct {
		ID      int64 `db:"id"`
		Version int64 `db:"version"`
	}
	if err := d.selectx(ctx, d.db, &rows, `SELECT id, version FROM `+table+` WHERE id `+d.anyID, d.idsArg(ids)); err != nil {
		return nil, fmt.Errorf("store: versions of %s: %w", kind, err)
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Version
	}
	return out, nil
}
