package graph

import "testing"

func TestDuplicateKey(t *testing.T) {
	for _, c := range []struct {
		json string
		key  string // "" for none
	}{
		{`{"query":"a","variables":{"id":"1"}}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"b":1,"c":{"b":2}},"b":3}`, ""}, // the same key in other objects
		{`{"a":[{"x":1},{"x":2}],"b":{"x":1,"y":{"x":2},"x":3}}`, "x"},
		{`{"a\"b":1,"a\"b":2}`, `a"b`},
		{`{"query":1,"\u0071uery":2}`, "query"},
		{`{"k":"{\"k\":1,\"k\":2}"}`, ""}, // inside a string value
		{`[{"a":1},{"a":1}]`, ""},
		{`{"a":[1,"a",{"a":1}],"b":1}`, ""},
		{`{}`, ""},
		{`{}}`, ""}, // not well-formed: no panic
		{`]]{"a":1,"a":2`, "a"},
	} {
		key, found := duplicateKey([]byte(c.json))
		if found != (c.key != "") || key != c.key {
			t.Errorf("%s: %q %v, want %q", c.json, key, found, c.key)
		}
	}
}
