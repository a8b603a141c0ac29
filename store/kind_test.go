package store_test

import (
	"context"
	"slices"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Every registered kind names its document type both ways, has a table
// that holds versions, so the auditor can check each, and a SQL read of
// one statement, so the loaders can fetch it; an unregistered kind is an
// error, not a query.
func TestKindsRegistered(t *testing.T) {
	if got, want := store.Kinds(), []store.Kind{store.CategoryKind, store.ProductKind, store.SellerKind}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v, want %v", got, want)
	}
	for _, k := range store.Kinds() {
		doc := k.New()
		if doc == nil {
			t.Fatalf("%s.New() = nil", k)
		}
		if got := doc.Ref().Kind; got != k {
			t.Errorf("%s.New() is a %T, of kind %q", k, doc, got)
		}
	}
	for _, tc := range []struct {
		kindOf func() (store.Kind, bool)
		want   store.Kind
	}{
		{store.KindOf[*store.Product], store.ProductKind},
		{store.KindOf[*store.Seller], store.SellerKind},
		{store.KindOf[*store.Category], store.CategoryKind},
	} {
		if got, ok := tc.kindOf(); got != tc.want || !ok {
			t.Errorf("KindOf = %q, %v; want %q", got, ok, tc.want)
		}
	}
	if k, ok := store.KindOf[store.Document](); ok {
		t.Errorf("KindOf[Document] = %q: the interface is no kind", k)
	}
	if doc := store.Kind("review").New(); doc != nil {
		t.Errorf("New() of an unregistered kind = %T", doc)
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
		for _, k := range store.Kinds() {
			before := db.Statements()
			docs, err := db.Documents(ctx, k, []int64{1, 999999})
			if err != nil {
				t.Fatalf("documents of %s: %v", k, err)
			}
			if n := db.Statements() - before; n != 1 {
				t.Errorf("documents of %s: %d statements, want 1", k, n)
			}
			if r := docs[1].Ref(); r.Kind != k || r.ID != 1 || r.Version < 1 || len(docs) != 1 {
				t.Errorf("documents of %s 1 and 999999: %v (%d found)", k, r, len(docs))
			}
		}
		if _, err := db.Versions(ctx, store.Kind("review"), []int64{1}); err == nil {
			t.Error("versions of an unregistered kind: no error")
		}
		if _, err := db.Documents(ctx, store.Kind("review"), []int64{1}); err == nil {
			t.Error("documents of an unregistered kind: no error")
		}
	})
}
