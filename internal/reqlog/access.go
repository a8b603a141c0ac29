package reqlog

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// AccessOptions says which requests AccessLog logs.
type AccessOptions struct {
	// Sample is the fraction of ordinary requests logged: 1 logs every
	// one, 0 none. At thousands of requests a second a line each costs a
	// write system call each, for lines nobody reads.
	Sample float64
	// Slow is the duration past which a request is always logged. Default
	// 500ms.
	Slow time.Duration
}

// AccessLog logs one line per request once it is answered: method, path,
// status, response bytes and duration, with the request id when the
// request passed through Middleware first. Every failed request (status
// 400 or more) and every slow one is logged; of the others, the fraction
// opt.Sample. The query string is not logged: it can hold a whole GraphQL
// query.
func AccessLog(log *slog.Logger, opt AccessOptions, next http.Handler) http.Handler {
	if opt.Slow <= 0 {
		opt.Slow = 500 * time.Millisecond
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		if rec.status < 400 && took < opt.Slow && (opt.Sample <= 0 || rand.Float64() >= opt.Sample) {
			return
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("took", took))
	})
}

// recorder notes the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
