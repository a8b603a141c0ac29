package sqlstore_test

import (
	"context"
	"slices"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// One statement reads products with their images and tags in the order
// they were written, a product with neither as empty lists, on both
// engines.
func TestProductsOneStatement(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.MustOpen(t, d)
			if err := db.Seed(ctx, sqlstore.SeedOptions{Products: 3, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			images := []store.Image{{URL: "https://img.example.com/z.jpg", Alt: `a "quoted" alt`}, {URL: "https://img.example.com/a.jpg", Alt: ""}}
			tags := []string{"zeta", "alpha", "ünïcode"}
			full, _, err := db.CreateProduct(ctx, store.ProductInput{Name: "Full", Price: store.Money{Amount: 100, Currency: "EUR"},
				SellerID: 1, Images: images, Tags: tags})
			if err != nil {
				t.Fatal(err)
			}
			bare, _, err := db.CreateProduct(ctx, store.ProductInput{Name: "Bare", Price: store.Money{Amount: 1, Currency: "EUR"}, SellerID: 1})
			if err != nil {
				t.Fatal(err)
			}
			before := db.Statements()
			got, err := db.Products(ctx, []int64{full, bare, 1, 999999})
			if err != nil {
				t.Fatal(err)
			}
			if n := db.Statements() - before; n != 1 {
				t.Errorf("%d statements, want 1", n)
			}
			if len(got) != 3 || got[999999] != nil {
				t.Fatalf("%d products, want 3 (999999 absent)", len(got))
			}
			if p := got[full]; !slices.Equal(p.Images, images) || !slices.Equal(p.Tags, tags) {
				t.Errorf("full product: images %v tags %v; want %v %v", p.Images, p.Tags, images, tags)
			}
			if p := got[bare]; p.Images == nil || len(p.Images) != 0 || p.Tags == nil || len(p.Tags) != 0 {
				t.Errorf("bare product: images %#v tags %#v; want empty lists", p.Images, p.Tags)
			}
		})
	}
}
