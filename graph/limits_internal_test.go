package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// A small schema with the view counter's mutation, which this service's
// schema may not have yet: the once-per-operation rule names fields by
// coordinate, whatever schema they are in.
var viewSchema = gqlparser.MustLoadSchema(&ast.Source{Name: "views.graphqls", Input: `
	type Query { product(id: ID!): Product }
	type Product { id: ID! hits: Int! related: [Product!]! }
	type Mutation { recordView(productId: ID!): Boolean! setStock(id: ID!): Boolean! }
`})

func mustMeasure(t *testing.T, schema *ast.Schema, q string) shape {
	t.Helper()
	doc, errs := gqlparser.LoadQueryWithRules(schema, q, nil)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", q, errs)
	}
	return measure(doc, doc.Operations[0], map[string]bool{"Mutation.recordView": true})
}

func TestRecordViewOncePerOperation(t *testing.T) {
	cases := []struct {
		q    string
		once int
	}{
		{`mutation { recordView(productId: "1") }`, 1},
		{`mutation { recordView(productId: "1") setStock(id: "1") }`, 1},
		{`mutation { a: recordView(productId: "1") b: recordView(productId: "1") }`, 2},
		{`mutation { a: recordView(productId: "1") ...f } fragment f on Mutation { recordView(productId: "2") }`, 2},
		{`mutation { ... on Mutation { a: recordView(productId: "1") } ... { b: recordView(productId: "1") } }`, 2},
		{`mutation { ...f ...g } fragment f on Mutation { ...g } fragment g on Mutation { v: recordView(productId: "1") }`, 2},
		{`mutation { setStock(id: "1") }`, 0},
		{`{ product(id: "1") { recordView: hits } }`, 0}, // an alias is not the field
	}
	for _, c := range cases {
		if got := mustMeasure(t, viewSchema, c.q).once["Mutation.recordView"]; got != c.once {
			t.Errorf("%s: recordView selected %d times, want %d", c.q, got, c.once)
		}
	}
}

func TestRecordViewRuleRefuses(t *testing.T) {
	l := newLimiter(Limits{}.withDefaults(), true)
	for q, code := range map[string]string{
		`mutation { recordView(productId: "1") }`:                                                            "",
		`mutation { a: recordView(productId: "1") b: recordView(productId: "2") }`:                           CodeFieldRepeated,
		`mutation { recordView(productId: "1") ...f } fragment f on Mutation { recordView(productId: "1") }`: CodeFieldRepeated,
	} {
		doc, errs := gqlparser.LoadQueryWithRules(viewSchema, q, nil)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		got := ""
		if err := l.MutateOperationContext(context.Background(), opContext(doc)); err != nil {
			got = err.Extensions["code"].(string)
		}
		if got != code {
			t.Errorf("%s: code %q, want %q", q, got, code)
		}
	}
}

func TestMeasure(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	cases := []struct {
		q                      string
		depth, fields, aliases int
	}{
		{`{ product(id: "1") { id } }`, 2, 2, 0},
		{`{ product(id: "1") { seller { name } category { parent { name } } } }`, 4, 6, 0},
		{`{ a: product(id: "1") { id } b: product(id: "2") { i: id } }`, 2, 4, 3},
		{`{ product: product(id: "1") { id } }`, 2, 2, 0}, // an alias equal to the name is none
		{`{ ...f ...f } fragment f on Query { p: product(id: "1") { ...g } } fragment g on Product { seller { id } }`, 3, 6, 2},
		{`{ __typename product(id: "1") { ... on Product { id } } }`, 2, 3, 0},
		{`{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`, 0, 0, 0},
	}
	for _, c := range cases {
		s := mustMeasure(t, schema, c.q)
		if s.depth != c.depth || s.fields != c.fields || s.aliases != c.aliases {
			t.Errorf("%s: depth %d fields %d aliases %d, want %d %d %d", c.q, s.depth, s.fields, s.aliases, c.depth, c.fields, c.aliases)
		}
	}
}

// measure is safe on documents that validation would refuse: fragment
// cycles and unknown fragments count as empty.
func TestMeasureCycleSafe(t *testing.T) {
	for _, q := range []string{
		`{ ...a } fragment a on Query { ...a }`,
		`{ product(id: "1") { ...a } } fragment a on Product { seller { id } ...b } fragment b on Product { ...a id }`,
		`{ ...missing }`,
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		s := measure(doc, doc.Operations[0], nil)
		if s.fields > 10 {
			t.Errorf("%s: %d fields", q, s.fields)
		}
	}
}

// A fragment bomb of 2^60 fields is measured in linear time, and saturates.
func TestMeasureFragmentBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("{ ...f0 }\n")
	for i := range 60 {
		fmt.Fprintf(&b, "fragment f%d on Query { ...f%d a%d: __typename ...f%d }\n", i, i+1, i, i+1)
	}
	b.WriteString(`fragment f60 on Query { product(id: "1") { id } }`)
	doc, err := parser.ParseQuery(&ast.Source{Input: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	s := measure(doc, doc.Operations[0], nil)
	if s.fields != ceiling || s.aliases != ceiling {
		t.Errorf("fields %d aliases %d, want both saturated at %d", s.fields, s.aliases, ceiling)
	}
}

// The limiter's field count never exceeds gqlgen's complexity, so refusing
// on the count alone refuses nothing that complexity would let through.
func TestFieldsBoundComplexity(t *testing.T) {
	es := NewExecutableSchema(Config{Complexity: complexityRoot()})
	for _, q := range []string{
		`{ products(ids: []) { id name seller { id } } }`,
		`{ products(ids: ["1", "2"]) { id name seller { id } } }`,
		`{ categoryProducts(categoryId: "1", first: 0) { edges { node { id } } pageInfo { endCursor } } }`,
		`{ categoryProducts(categoryId: "1", first: 3) { edges { node { id options { id } } } } }`,
		`{ a: product(id: "1") { ...p } b: product(id: "2") { ...p } } fragment p on Product { id images { url } category { parent { id } } }`,
		`{ __typename __type(name: "Product") { name } product(id: "1") { __typename } }`,
		`mutation { setStock(productId: "1", stock: 1) { id stock } deleteProduct(id: "2") }`,
	} {
		doc, errs := gqlparser.LoadQueryWithRules(es.Schema(), q, nil)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", q, errs)
		}
		op := doc.Operations[0]
		fields, cx := measure(doc, op, nil).fields, complexity.Calculate(context.Background(), es, op, nil)
		if fields > cx || fields == 0 {
			t.Errorf("%s: %d fields, complexity %d", q, fields, cx)
		}
	}
}

func TestListCost(t *testing.T) {
	for _, c := range []struct{ child, n, want int }{
		{3, 0, 4}, {3, 1, 4}, {3, 100, 301}, {0, 5, 1}, {1 << 20, 1 << 20, ceiling}, {ceiling, 2, ceiling},
	} {
		if got := listCost(c.child, c.n); got != c.want {
			t.Errorf("listCost(%d, %d) = %d, want %d", c.child, c.n, got, c.want)
		}
	}
}

func opContext(doc *ast.QueryDocument) *graphql.OperationContext {
	return &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
}

func TestQueryCacheSkipsLongQueries(t *testing.T) {
	c, ctx, doc := newQueryCache(), context.Background(), &ast.QueryDocument{}
	short, long := "{ a }", "{ "+strings.Repeat("a ", maxCachedQuery/2)+"}"
	c.Add(ctx, short, doc)
	c.Add(ctx, long, doc)
	if _, ok := c.Get(ctx, short); !ok {
		t.Error("short query not cached")
	}
	if _, ok := c.Get(ctx, long); ok {
		t.Errorf("query of %d bytes cached", len(long))
	}
}
