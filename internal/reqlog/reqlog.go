// Package reqlog gives each HTTP request an id and puts it on every log
// line written for that request.
//
// Middleware takes the id from the request's X-Request-ID header when the
// client (or a proxy in front) sent a usable one, makes one otherwise, puts
// it in the request's context and echoes it in the response's X-Request-ID
// header. A slog.Handler wrapped by NewHandler adds the id of the context it
// is given to each record, so code logs with log.InfoContext(ctx, …) and
// never passes the id around itself.
package reqlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
)

// Header is the request and response header that carries the id.
const Header = "X-Request-ID"

// MaxIDLength is the longest client-sent id that is kept.
const MaxIDLength = 64

type ctxKey struct{}

// With returns a copy of ctx that carries id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// notes are attributes learnt while a request is served, added to every
// line logged for it from then on, its access log line included.
type notes struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

type notesKey struct{}

// Annotate adds attrs to every line logged from now on with a context of
// the request ctx belongs to (one that passed through Middleware).
func Annotate(ctx context.Context, attrs ...slog.Attr) {
	if n, _ := ctx.Value(notesKey{}).(*notes); n != nil {
		n.mu.Lock()
		n.attrs = append(n.attrs, attrs...)
		n.mu.Unlock()
	}
}

// ID returns the request id ctx carries, or "".
func ID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Valid reports whether a client-sent id can be kept: 1 to MaxIDLength
// printable ASCII characters, no spaces. Anything else (control characters,
// quotes of a log format aside, very long values) is replaced, so that a
// client cannot forge log lines or bloat them.
func Valid(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// NewID returns a fresh random id: 16 hex digits.
func NewID() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Middleware gives each request an id, as described on the package. A
// request whose context already carries an id keeps it, so the middleware
// can wrap both a whole server and one of its handlers.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ID(r.Context())
		if id == "" {
			if id = r.Header.Get(Header); !Valid(id) {
				id = NewID()
			}
			r = r.WithContext(context.WithValue(With(r.Context(), id), notesKey{}, &notes{}))
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r)
	})
}

// handler adds the context's request id to each record.
type handler struct{ slog.Handler }

// NewHandler returns a handler that writes what h writes, plus a
// request_id attribute on each record logged with a context that carries
// one.
func NewHandler(h slog.Handler) slog.Handler { return handler{h} }

// Handle implements slog.Handler.
func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
		if n, _ := ctx.Value(notesKey{}).(*notes); n != nil {
			n.mu.Lock()
			r.AddAttrs(n.attrs...)
			n.mu.Unlock()
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}
