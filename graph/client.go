package graph

import (
	"context"
	"net"
	"net/http"
	"strings"
)

type clientKey struct{}

// withClient puts the client's address in the request's context, for the
// view rate limit: the first address of header when it is set (a header
// that the service's own proxy or load balancer sets, such as X-Real-IP;
// never one a client can forge on its way in), else the connection's
// remote address.
func withClient(header string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := ""
		if header != "" {
			addr, _, _ = strings.Cut(r.Header.Get(header), ",")
			addr = strings.TrimSpace(addr)
		}
		if addr == "" {
			addr, _, _ = net.SplitHostPort(r.RemoteAddr)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, addr)))
	})
}

// clientOf returns the client's address, "" when unknown.
func clientOf(ctx context.Context) string {
	s, _ := ctx.Value(clientKey{}).(string)
	return s
}
