package store

import "cmp"

// The inputs of the catalogue's writes, and their validation.

// Opt is one field of a patch. Set says whether the client gave the field;
// a field left out stays as it is.
type Opt[T any] struct {
	Value T
	Set   bool
}

// Some returns an Opt that is set to v.
func Some[T any](v T) Opt[T] { return Opt[T]{Value: v, Set: true} }

// ProductInput is a new product.
type ProductInput struct {
	Name        string
	Description string
	Price       Money
	CategoryID  *int64
	SellerID    int64
	Images      []Image
	Tags        []string
	Stock       int64
}

// Validate checks every field; its error names the first bad one
// (BAD_USER_INPUT).
func (in *ProductInput) Validate() error {
	return cmp.Or(validName("name", &in.Name), validDescription(&in.Description), validPrice(in.Price),
		validImages(in.Images), validTags(in.Tags), ValidStock(in.Stock))
}

// ProductPatch changes the fields of a product that are Set. A Set
// CategoryID of nil removes the product from its category.
type ProductPatch struct {
	Name        Opt[string]
	Description Opt[string]
	Price       Opt[Money]
	CategoryID  Opt[*int64]
	SellerID    Opt[int64]
	Images      Opt[[]Image]
	Tags        Opt[[]string]
}

// Validate checks the fields that are Set.
func (p *ProductPatch) Validate() error {
	var errs []error
	if p.Name.Set {
		errs = append(errs, validName("name", &p.Name.Value))
	}
	if p.Description.Set {
		errs = append(errs, validDescription(&p.Description.Value))
	}
	if p.Price.Set {
		errs = append(errs, validPrice(p.Price.Value))
	}
	if p.Images.Set {
		errs = append(errs, validImages(p.Images.Value))
	}
	if p.Tags.Set {
		errs = append(errs, validTags(p.Tags.Value))
	}
	return cmp.Or(errs...)
}

// SellerPatch changes the fields of a seller that are Set.
type SellerPatch struct {
	Name   Opt[string]
	Rating Opt[float64]
}

// CategoryPatch changes the fields of a category that are Set. A Set
// ParentID of nil makes the category top-level.
type CategoryPatch struct {
	Name     Opt[string]
	ParentID Opt[*int64]
}

// Validate checks the fields that are Set.
func (p *SellerPatch) Validate() error {
	var errs []error
	if p.Name.Set {
		errs = append(errs, validName("name", &p.Name.Value))
	}
	if p.Rating.Set {
		errs = append(errs, validRating(p.Rating.Value))
	}
	return cmp.Or(errs...)
}

// Validate checks the fields that are Set. Whether a new parent exists
// and is not a descendant is for the database to say.
func (p *CategoryPatch) Validate() error {
	if p.Name.Set {
		return validName("name", &p.Name.Value)
	}
	return nil
}
