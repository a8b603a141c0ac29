package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// healthz answers whether the process is alive: it always is if it answers.
func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
}

// readyz answers whether the process can serve: ready (200) while SQL
// answers, not ready (503) when it does not. Redis is reported, as "ok",
// "degraded" (unreachable, or reads fenced while invalidations are pending)
// or "off", but never makes the service unready: it can serve from SQL. The
// near cache is reported as "ok", "off", or "degraded" while it does not
// serve (its invalidation stream is down or cache reads are fenced). The
// view counter is reported as "ok", "in process" (views counted in process
// and flushed straight to SQL: no Redis, or Redis failing) or "degraded"
// for an hour after Redis's view log was found behind SQL (a restore or a
// failover), with what happened in "viewsDetail".
func readyz(s services) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		body := map[string]string{"status": "ready", "sql": "ok", "redis": "off"}
		code := http.StatusOK
		if err := s.db.Ping(ctx); err != nil {
			body["status"], body["sql"], code = "not ready", "unreachable", http.StatusServiceUnavailable
		}
		if s.cache != nil {
			body["redis"] = "ok"
			if fenced, _ := s.cache.Fenced(); fenced || s.cache.Ping(ctx) != nil {
				body["redis"] = "degraded"
			}
		}
		body["nearCache"] = "off"
		if s.near != nil {
			body["nearCache"] = "ok"
			if !s.near.Live() {
				body["nearCache"] = "degraded"
			}
		}
		if s.counter != nil {
			st := s.counter.Stats()
			body["views"] = "ok"
			if !s.counter.InRedis() {
				body["views"] = "in process"
			}
			if !st.LastRewind.IsZero() && time.Since(st.LastRewind) < time.Hour {
				body["views"] = "degraded"
				body["viewsDetail"] = fmt.Sprintf("Redis's view log was found behind SQL (restored or failed over) "+
					"at %s; %d views it lost were counted again from this process's memory",
					st.LastRewind.UTC().Format(time.RFC3339), st.Recovered)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body)
	})
}
