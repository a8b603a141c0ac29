package graph

import (
	"cmp"
	"context"

	"github.com/99designs/gqlgen/graphql"

	"catalog-bff/graph/model"
	"catalog-bff/loaders"
	"catalog-bff/store"
)

// Every admin mutation is marked @admin in the schema: the directive checks
// the token before the resolver runs (Admin.directive), so that a request
// without a valid one touches neither SQL nor Redis. A mutation then writes
// through Writer (loaders.Writes), which commits one transaction, then
// invalidates what the write made stale; then it reloads the row, from SQL
// unless the cache took the invalidation, so that the response shows the
// new data.

func (r *Resolver) createProduct(ctx context.Context, in model.CreateProductInput) (*store.Product, error) {
	id, cacheOK, err := r.Writer.CreateProduct(ctx, productInput(in))
	if err != nil {
		return nil, err
	}
	return r.reloadProduct(ctx, id, cacheOK)
}

func (r *Resolver) updateProduct(ctx context.Context, id int64, in model.UpdateProductInput) (*store.Product, error) {
	patch, err := productPatch(in)
	if err != nil {
		return nil, err
	}
	cacheOK, err := r.Writer.UpdateProduct(ctx, id, patch)
	if err != nil {
		return nil, err
	}
	return r.reloadProduct(ctx, id, cacheOK)
}

func (r *Resolver) deleteProduct(ctx context.Context, id int64) (bool, error) {
	if _, err := r.Writer.DeleteProduct(ctx, id); err != nil {
		return false, err
	}
	loaders.Forget[*store.Product](ctx, loaders.For(ctx), id)
	return true, nil
}

func (r *Resolver) setStock(ctx context.Context, productID int64, optionID *int64, stock int) (*store.Product, error) {
	if err := r.Writer.SetStock(ctx, productID, optionID, int64(stock)); err != nil {
		return nil, err
	}
	return r.reloadProduct(ctx, productID, true) // no invalidation: stock is never cached
}

func (r *Resolver) updateSeller(ctx context.Context, id int64, in model.UpdateSellerInput) (*store.Seller, error) {
	var patch store.SellerPatch
	err := cmp.Or(required("name", in.Name, &patch.Name), required("rating", in.Rating, &patch.Rating))
	if err != nil {
		return nil, err
	}
	cacheOK, err := r.Writer.UpdateSeller(ctx, id, patch)
	if err != nil {
		return nil, err
	}
	return loaders.Reload[*store.Seller](ctx, loaders.For(ctx), id, !cacheOK)
}

func (r *Resolver) updateCategory(ctx context.Context, id int64, in model.UpdateCategoryInput) (*store.Category, error) {
	patch := store.CategoryPatch{ParentID: nullable(in.ParentID)}
	if err := required("name", in.Name, &patch.Name); err != nil {
		return nil, err
	}
	cacheOK, err := r.Writer.UpdateCategory(ctx, id, patch)
	if err != nil {
		return nil, err
	}
	return loaders.Reload[*store.Category](ctx, loaders.For(ctx), id, !cacheOK)
}

// reloadProduct loads the product as the write left it, straight from SQL
// unless the cache took the invalidation.
func (r *Resolver) reloadProduct(ctx context.Context, id int64, cacheOK bool) (*store.Product, error) {
	p, err := loaders.For(ctx).ReloadProduct(ctx, id, !cacheOK)
	if err == nil && p == nil {
		err = store.Errorf(store.NotFound, "product %d was deleted meanwhile", id)
	}
	return p, err
}

func productInput(in model.CreateProductInput) store.ProductInput {
	return store.ProductInput{
		Name: in.Name, Description: in.Description,
		Price:      store.Money{Amount: int64(in.Price.Amount), Currency: in.Price.Currency},
		CategoryID: in.CategoryID.Value(), SellerID: in.SellerID,
		Images: images(in.Images), Tags: in.Tags, Stock: int64(in.Stock),
	}
}

func productPatch(in model.UpdateProductInput) (store.ProductPatch, error) {
	p := store.ProductPatch{CategoryID: nullable(in.CategoryID)}
	var price store.Opt[model.MoneyInput]
	var imgs store.Opt[[]model.ImageInput]
	err := cmp.Or(
		required("name", in.Name, &p.Name),
		required("description", in.Description, &p.Description),
		required("price", in.Price, &price),
		required("sellerId", in.SellerID, &p.SellerID),
		requiredList("images", in.Images, &imgs),
		requiredList("tags", in.Tags, &p.Tags),
	)
	if price.Set {
		p.Price = store.Some(store.Money{Amount: int64(price.Value.Amount), Currency: price.Value.Currency})
	}
	if imgs.Set {
		p.Images = store.Some(images(imgs.Value))
	}
	return p, err
}

func images(in []model.ImageInput) []store.Image {
	out := make([]store.Image, len(in))
	for i, img := range in {
		out[i] = store.Image{URL: img.URL, Alt: img.Alt}
	}
	return out
}

// required copies a field that may be left out but not set to null.
func required[T any](field string, o graphql.Omittable[*T], dst *store.Opt[T]) error {
	v, set := o.ValueOK()
	switch {
	case !set:
		return nil
	case v == nil:
		return store.Errorf(store.Invalid, "%s: cannot be null; leave it out to keep it as it is", field)
	}
	*dst = store.Some(*v)
	return nil
}

// requiredList is required for a list field.
func requiredList[T any](field string, o graphql.Omittable[[]T], dst *store.Opt[[]T]) error {
	v, set := o.ValueOK()
	switch {
	case !set:
		return nil
	case v == nil:
		return store.Errorf(store.Invalid, "%s: cannot be null; pass [] to remove them all", field)
	}
	*dst = store.Some(v)
	return nil
}

// nullable copies a field whose null means "clear".
func nullable(o graphql.Omittable[*int64]) store.Opt[*int64] {
	v, set := o.ValueOK()
	return store.Opt[*int64]{Value: v, Set: set}
}
