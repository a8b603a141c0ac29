package graph_test

import (
	"slices"
	"strings"
	"testing"

	"catalog-bff/store/sqlstore"
)

// GraphQL's Int is 32-bit: a larger value in a variable is refused naming
// the field, and changes nothing; the largest Int is accepted.
func TestIntIs32Bit(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{})
	m := `mutation($n: Int!) { setStock(productId: "3", stock: $n) { stock } }`
	for _, n := range []any{2147483648, 9007199254740993, -2147483649} {
		r := ts.admin(t, m, map[string]any{"n": n}, nil)
		if !slices.Equal(r.codes(), []string{"BAD_USER_INPUT"}) || !strings.HasPrefix(r.Errors[0].Message, "stock: ") {
			t.Errorf("stock %v: %+v, want BAD_USER_INPUT naming stock", n, r.Errors)
		}
	}
	var out struct{ SetStock struct{ Stock int64 } }
	if r := ts.admin(t, m, map[string]any{"n": 2147483647}, &out); len(r.Errors) > 0 || out.SetStock.Stock != 2147483647 {
		t.Errorf("the largest Int: %+v %+v", r.Errors, out)
	}
}
