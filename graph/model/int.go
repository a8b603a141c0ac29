package model

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"catalog-bff/store"
)

// GraphQL's Int is a signed 32-bit integer. The store keeps amounts,
// stock and counts as int64; on the wire they stay within Int's range, as
// JavaScript clients expect (a number above 2^53 would be rounded without
// a word, and one above 2^31 is not an Int).

// MarshalInt writes an int as an Int, as MarshalInt64 does.
func MarshalInt(v int) graphql.ContextMarshaler { return MarshalInt64(int64(v)) }

// UnmarshalInt reads an Int into an int, as UnmarshalInt64 does.
func UnmarshalInt(ctx context.Context, v any) (int, error) {
	n, err := UnmarshalInt64(ctx, v)
	return int(n), err
}

// MarshalInt64 writes v as an Int. A value out of Int's range is a field
// error, never a number no Int can hold.
func MarshalInt64(v int64) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("%d is out of the range of GraphQL's Int (32 bits)", v)
		}
		_, err := io.WriteString(w, strconv.FormatInt(v, 10))
		return err
	})
}

// UnmarshalInt64 reads an Int. A value out of its range, or not an
// integer, is an Invalid error naming the input field.
func UnmarshalInt64(ctx context.Context, v any) (int64, error) {
	n, err := graphql.UnmarshalInt64(v)
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, store.Errorf(store.Invalid, "%s: must be an integer from %d to %d", inputField(ctx),
			math.MinInt32, math.MaxInt32)
	}
	return n, nil
}

// inputField names the argument or input field being read in ctx, as a
// client writes it: "input.price.amount", "stock".
func inputField(ctx context.Context) string {
	path := graphql.GetPath(ctx)
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		path = path[len(fc.Path()):] // the argument's path below its field
	}
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case ast.PathName:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(p))
		case ast.PathIndex:
			fmt.Fprintf(&b, "[%d]", int(p))
		}
	}
	if b.Len() == 0 {
		return "value"
	}
	return b.String()
}
