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
	kinds := store.Kinds()
	if !slices.IsSorted(kinds) || len(slices.Compact(slices.Clone(kinds))) != len(kinds) {
		t.Errorf("Kinds() = %v: not sorted, or a kind twice", kinds)
	}
	for _, k := range []store.Kind{store.CategoryKind, store.ProductKind, store.SellerKind} {
		if !slices.Contains(kinds, k) {
			t.Errorf("Kinds() = %v, without %s", kinds, k)
		}
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
			checkKindSQL(ctx, t, db, k)
		}
		if _, err := db.Versions(ctx, store.Kind("review"), []int64{1}); err == nil {
			t.Error("versions of an unregistered kind: no error")
		}
		if _, err := db.Documents(ctx, store.Kind("review"), []int64{1}); err == nil {
			t.Error("documents of an unregistered kind: no error")
		}
	})
}

// checkKindSQL reads the versions and the documents of kind k's first row,
// if its table has one, and of an id no row has.
func checkKindSQL(ctx context.Context, t *testing.T, db *sqlstore.DB, k store.Kind) {
	t.Helper()
	table, _ := k.Table()
	var first int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT COALESCE(MIN(id), 0) FROM `+table).Scan(&first); err != nil {
		t.Fatalf("table of %s: %v", k, err)
	}
	ids := []int64{first, 999999}
	v, err := db.Versions(ctx, k, ids)
	if err != nil || (first > 0 && v[first] < 1) {
		t.Errorf("versions of %s %v: %v, %v", k, ids, v, err)
	}
	before := db.Statements()
	docs, err := db.Documents(ctx, k, ids)
	if err != nil {
		t.Fatalf("documents of %s: %v", k, err)
	}
	if n := db.Statements() - before; n != 1 {
		t.Errorf("documents of %s: %d statements, want 1", k, n)
	}
	if first == 0 {
		if len(docs) != 0 {
			t.Errorf("documents of %s %v: %v, want none", k, ids, docs)
		}
		return
	}
	if doc := docs[first]; doc == nil || doc.Ref() != (store.Ref{Kind: k, ID: first, Version: v[first]}) || len(docs) != 1 {
		t.Errorf("documents of %s %v: %v, want %s %d at version %d only", k, ids, docs, k, first, v[first])
	}
}
