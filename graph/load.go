package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"catalog-bff/graph/model"
	"catalog-bff/loaders"
	"catalog-bff/store"
)

// maxIDs bounds the ids of one products(ids:) call.
const maxIDs = 100

// productsByIDs loads products in the order of ids, duplicates included, nil
// where no product has the id. Each distinct id is fetched once.
func productsByIDs(ctx context.Context, ids []int64) ([]*store.Product, error) {
	if len(ids) > maxIDs {
		return nil, store.Errorf(store.Invalid, "ids: at most %d ids a call, got %d", maxIDs, len(ids))
	}
	l := loaders.For(ctx)
	wantNext(ctx, l)
	products, errs := loaders.LoadMany[*store.Product](ctx, l, ids)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return products, nil
}

// productByID loads product id, nil when no product has it.
func productByID(ctx context.Context, id int64) (*store.Product, error) {
	l := loaders.For(ctx)
	wantNext(ctx, l)
	return loaders.Load[*store.Product](ctx, l, id)
}

// wantNext tells the request's loaders which levels below the products of
// the field being resolved the query asks for (loaders.Want), so that
// products read cold bring their seller and categories along.
func wantNext(ctx context.Context, l *loaders.Loaders) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return
	}
	if w := nextLevels(graphql.GetOperationContext(ctx), fc.Field.Selections, 0); w != 0 {
		l.Want(w)
	}
}

// nextLevels finds Product.seller, Product.category and its parent in sel,
// looking through up to two levels of fields that lead to products (a
// connection's edges and nodes).
func nextLevels(op *graphql.OperationContext, sel ast.SelectionSet, depth int) loaders.Want {
	var w loaders.Want
	for _, f := range graphql.CollectFields(op, sel, nil) {
		if f.ObjectDefinition != nil && f.ObjectDefinition.Name == "Product" {
			switch f.Name {
			case "seller":
				w |= loaders.WantSeller
				continue
			case "category":
				w |= loaders.WantCategory
				for _, g := range graphql.CollectFields(op, f.Selections, nil) {
					if g.Name == "parent" {
						w |= loaders.WantParent
					}
				}
				continue
			}
		}
		if depth < 2 && len(f.Selections) > 0 {
			w |= nextLevels(op, f.Selections, depth+1)
		}
	}
	return w
}

// listCategory builds one page of a category listing: the ids come from the
// lister, the products through the product loader. A product deleted between
// the two reads is left out of the page.
func (r *Resolver) listCategory(ctx context.Context, categoryID int64, first int, after *string) (*model.ProductConnection, error) {
	if first < 1 || first > maxIDs {
		return nil, store.Errorf(store.Invalid, "first: must be between 1 and %d, got %d", maxIDs, first)
	}
	var from *store.ListingKey
	if after != nil {
		var err error
		if from, err = decodeCursor(*after); err != nil {
			return nil, err
		}
	}
	keys, more, err := r.Lister.CategoryProductIDs(ctx, categoryID, first, from)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	products, err := productsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	conn := &model.ProductConnection{Edges: make([]model.ProductEdge, 0, len(keys)), PageInfo: &model.PageInfo{HasNextPage: more}}
	for i, p := range products {
		if p != nil {
			conn.Edges = append(conn.Edges, model.ProductEdge{Cursor: encodeCursor(keys[i]), Node: p})
		}
	}
	if len(keys) > 0 {
		end := encodeCursor(keys[len(keys)-1])
		conn.PageInfo.EndCursor = &end
	}
	return conn, nil
}

// sellerOf loads a product's seller, which the schema promises exists.
func sellerOf(ctx context.Context, p *store.Product) (*store.Seller, error) {
	s, err := loaders.Load[*store.Seller](ctx, loaders.For(ctx), p.SellerID)
	if err == nil && s == nil {
		err = store.Errorf(store.NotFound, "seller %d of product %d not found", p.SellerID, p.ID)
	}
	return s, err
}

// categoryByID loads a category, or returns nil for a nil id.
func categoryByID(ctx context.Context, id *int64) (*store.Category, error) {
	if id == nil {
		return nil, nil
	}
	return loaders.Load[*store.Category](ctx, loaders.For(ctx), *id)
}
