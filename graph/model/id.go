// Package model holds the GraphQL types that have no store counterpart, and
// the ID scalar's codec.
package model

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"catalog-bff/store"
)

// MarshalInt64ID writes an id as a JSON string of its decimal digits, as the
// GraphQL spec serializes IDs. A JSON number would lose precision above 2^53
// in JavaScript clients.
func MarshalInt64ID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [24]byte
		b := append(buf[:0], '"')
		b = strconv.AppendInt(b, id, 10)
		_, _ = w.Write(append(b, '"')) // gqlgen's response buffer, which does not fail
	})
}

// UnmarshalInt64ID reads an id given as a string ("42") or, as GraphQL
// allows for ID inputs, an integer literal (42). An id is a positive int64
// written in canonical decimal: no sign, no leading zero, no exponent. Any
// other value is an Invalid error that names it.
func UnmarshalInt64ID(v any) (int64, error) {
	switch v := v.(type) {
	case string:
		return ParseID(v)
	case json.Number:
		return ParseID(v.String())
	case int64:
		return ParseID(strconv.FormatInt(v, 10))
	case int:
		return ParseID(strconv.Itoa(v))
	default:
		return 0, store.Errorf(store.Invalid, "invalid ID %v: want a decimal int64 string", v)
	}
}

// ParseID parses a canonical, positive decimal int64 id.
func ParseID(s string) (int64, error) {
	ok := len(s) > 0 && len(s) <= 19 && s[0] != '0'
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	if ok {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, store.Errorf(store.Invalid, "invalid ID %s: want a decimal int64 string", quote(s))
}

// quote shows a client's value in an error message, cut to a readable length.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// FormatID is the inverse of ParseID.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }
