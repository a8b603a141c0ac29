package graph

// complexityRoot weighs the fields that return many objects by how many they
// can return: products(ids:) costs its selection once per id, and
// categoryProducts(first:) once per item. Every other field costs 1 plus its
// selection (gqlgen's default). Lists with no size argument (images, tags,
// options) are loaded with their product, one batch for the whole level, so
// they count once.
//
// A field never costs less than 1 plus its selection, so the number of
// fields in an operation is a lower bound of its complexity; the limiter
// relies on that to refuse huge operations without gqlgen's walk.
func complexityRoot() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Products = func(child int, ids []int64) int {
		return listCost(child, len(ids))
	}
	c.Query.CategoryProducts = func(child int, _ int64, first int, _ *string) int {
		return listCost(child, first)
	}
	return c
}

// listCost is 1 + n × child for a list of n items, n at least 1, saturating
// at ceiling.
func listCost(child, n int) int {
	n = max(n, 1)
	if child > 0 && n > (ceiling-1)/child {
		return ceiling
	}
	return 1 + n*child
}
