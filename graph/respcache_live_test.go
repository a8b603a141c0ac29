package graph

import (
	"encoding/json"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// cutHits finds each view count by its path, aliases and list indexes
// included, and render splices new counts in their place.
func TestCutHitsAndRender(t *testing.T) {
	name := func(s string) ast.PathElement { return ast.PathName(s) }
	index := func(i int) ast.PathElement { return ast.PathIndex(i) }
	for _, tc := range []struct {
		name   string
		body   string
		fields []hitsField
		counts map[int64]int64
		want   string // "" when cutHits must refuse
	}{
		{"one product",
			`{"data":{"product":{"id":"7","name":"\"hits\":12","hits":12}}}`,
			[]hitsField{{ast.Path{name("product"), name("hits")}, 7}}, map[int64]int64{7: 13},
			`{"data":{"product":{"id":"7","name":"\"hits\":12","hits":13}}}`},
		{"a list, one product twice, an alias",
			`{"data":{"products":[{"hits":1,"tags":[]},{"n":{},"views":2},{"hits":1}],"x":{"hits":5}},"extensions":{"hits":9}}`,
			[]hitsField{
				{ast.Path{name("products"), index(0), name("hits")}, 3},
				{ast.Path{name("products"), index(1), name("views")}, 4},
				{ast.Path{name("products"), index(2), name("hits")}, 3},
				{ast.Path{name("x"), name("hits")}, 5}},
			map[int64]int64{3: 100, 4: 2000, 5: 0},
			`{"data":{"products":[{"hits":100,"tags":[]},{"n":{},"views":2000},{"hits":100}],"x":{"hits":0}},"extensions":{"hits":9}}`},
		{"a path the body does not have",
			`{"data":{"product":null}}`, []hitsField{{ast.Path{name("product"), name("hits")}, 7}}, nil, ""},
		{"a path that is not a number",
			`{"data":{"product":{"hits":"12"}}}`, []hitsField{{ast.Path{name("product"), name("hits")}, 7}}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := cutHits([]byte(tc.body), tc.fields)
			if tc.want == "" {
				if ok {
					t.Fatalf("cut %q at %v, want a refusal", tc.body, tc.fields)
				}
				return
			}
			if !ok {
				t.Fatalf("could not cut %q at %v", tc.body, tc.fields)
			}
			got, ok := l.render(tc.counts)
			if !ok || string(got) != tc.want {
				t.Fatalf("render = %s, %v; want %s", got, ok, tc.want)
			}
			if !json.Valid(got) {
				t.Fatalf("render gave invalid JSON %s", got)
			}
			if _, ok := l.render(map[int64]int64{}); ok {
				t.Fatal("render without counts succeeded")
			}
		})
	}
}
