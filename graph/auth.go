package graph

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"catalog-bff/store"
)

// Admin checks the bearer tokens of admin mutations against a fixed set.
// With no tokens configured, every admin mutation is refused.
type Admin struct {
	hashes [][sha256.Size]byte
}

// NewAdmin returns an Admin that accepts the given tokens. Empty tokens are
// ignored.
func NewAdmin(tokens []string) *Admin {
	a := &Admin{}
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" {
			a.hashes = append(a.hashes, sha256.Sum256([]byte(t)))
		}
	}
	return a
}

type bearerKey struct{}

// withBearer puts the request's bearer token, if any, in its context. The
// scheme is case-insensitive (RFC 6750); "Bearer" with no token counts as
// no token, and a header of another scheme as a wrong token.
func withBearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := bearer(r.Header.Get("Authorization")); token != "" {
			r = r.WithContext(context.WithValue(r.Context(), bearerKey{}, token))
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(h string) string {
	h = strings.TrimSpace(h)
	scheme, token, _ := strings.Cut(h, " ")
	switch {
	case h == "" || strings.EqualFold(h, "bearer"):
		return ""
	case strings.EqualFold(scheme, "bearer"):
		return strings.TrimSpace(token)
	default:
		return "\x00not a bearer token"
	}
}

// directive is the @admin directive: it runs the field's resolver only
// for a request that passes Check.
func (a *Admin) directive(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	if err := a.Check(ctx); err != nil {
		return nil, err
	}
	return next(ctx)
}

// Check returns nil when ctx's request carries an accepted token,
// Unauthenticated when it carries none, and Forbidden otherwise. It
// compares hashes in constant time and looks at every configured token, so
// its timing says nothing about how close a guess was.
func (a *Admin) Check(ctx context.Context) error {
	token, ok := ctx.Value(bearerKey{}).(string)
	if !ok || token == "" {
		return store.Errorf(store.Unauthenticated, "admin mutations need an Authorization: Bearer <token> header")
	}
	if a == nil || len(a.hashes) == 0 {
		return store.Errorf(store.Forbidden, "admin mutations are disabled: the server has no ADMIN_TOKENS")
	}
	h := sha256.Sum256([]byte(token))
	match := 0
	for _, want := range a.hashes {
		match |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	if match != 1 {
		return store.Errorf(store.Forbidden, "the bearer token is not an admin token")
	}
	return nil
}
