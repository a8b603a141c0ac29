package store_test

import (
	"context"
	"slices"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Every registered kind's table exists and holds versions, so the auditor
// can check each; an unregistered kind is an error, not a query.
func TestKindsRegistered(t *testing.T) {
	if got, want := store.Kinds(), []store.Kind{store.CategoryKind, store.ProductKind, store.SellerKind}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v, want %v", got, want)
	}
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db := storetest.MustOpen(t, d)
		ctx := context.Background()
		if err := db.Seed(ctx, sqlstore.SeedOptions{Products: 5, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		for _, k := range store.Kinds() {
			v, err := db.Versions(ctx, k, []int64{1})
			if err != nil || v[1] < 1 {
				t.Errorf("versions of %s 1: %v, %v", k, v, err)
			}
		}
		if _, err := db.Versions(ctx, store.Kind("review"), []int64{1}); err == nil {
			t.Error("versions of an unregistered kind: no error")
		}
	})
}
