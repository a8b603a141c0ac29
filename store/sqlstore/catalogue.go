package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Catalogue returns the database's identity: a random id, made on first
// use and replaced by a reset (Seed with Reset), that scopes every Redis
// key the service writes (CatalogueKey), so that two catalogues sharing a
// Redis and a key prefix never read each other's entries or views.
func (d *DB) Catalogue(ctx context.Context) (string, error) {
	var id string
	err := d.get(ctx, d.db, &id, `SELECT identity FROM catalogue WHERE id = 1`)
	if isNoRows(err) {
		if _, err = d.exec(ctx, d.db, `INSERT INTO catalogue (id, identity) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`,
			newCatalogueID()); err != nil {
			return "", fmt.Errorf("store: catalogue identity: %w", err)
		}
		err = d.get(ctx, d.db, &id, `SELECT identity FROM catalogue WHERE id = 1`) // ours, or a racing instance's
	}
	if err != nil {
		return "", fmt.Errorf("store: catalogue identity: %w", err)
	}
	return id, nil
}

// newIdentity gives the catalogue a new identity in tx: the keys of the
// old one are no longer read. The new identity's view log starts empty,
// so SQL's position in it starts over too.
func (d *DB) newIdentity(ctx context.Context, tx *sqlx.Tx) error {
	if _, err := d.exec(ctx, tx, `DELETE FROM catalogue`); err != nil {
		return err
	}
	if _, err := d.exec(ctx, tx, `UPDATE view_log SET position = '0-0', token = '', prev_token = '' WHERE name = 'views'`); err != nil {
		return err
	}
	_, err := d.exec(ctx, tx, `INSERT INTO catalogue (id, identity) VALUES (1, ?)`, newCatalogueID())
	return err
}

// newCatalogueID is 64 random bits in hex: short in every key, and never
// the same twice among the catalogues one Redis serves.
func newCatalogueID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

// CatalogueKeyPrefix returns the prefix of every Redis key of catalogue id
// under the configured prefix: "catalog:" and "3f9c…" give "catalog:3f9c…:".
func CatalogueKeyPrefix(prefix, id string) string { return prefix + id + ":" }
