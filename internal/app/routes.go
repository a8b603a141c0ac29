package app

import (
	"net/http"
	"time"

	"catalog-bff/graph"
	"catalog-bff/internal/playground"
	"catalog-bff/internal/reqlog"
	"catalog-bff/loaders"
)

// newHandler wires the HTTP routes: GraphQL at /query, the playground at /
// with its bundle under /playground/, the health checks, and the metrics.
// It returns them with the loaders' factory and the response cache (nil
// when off).
func (a *App) newHandler() (http.Handler, *loaders.Factory, *graph.ResponseCache) {
	s, c, log, seams := a.svc, a.cfg, a.log, a.Seams
	opt := loaders.Options{Store: s.db, Hits: s.counter, Wait: c.loaderWait, Logger: log,
		LeaseTTL: c.leaseTTL, FallbackMaxInflight: c.fallbackMax, Observer: s.tel, Faults: seams.Faults}
	writes := &loaders.Writes{SQL: s.db, Logger: log, Faults: seams.Faults}
	resolver := &graph.Resolver{Lister: s.db, Writer: writes, Views: s.counter, Admin: s.admin, Logger: log}
	hopt := graph.HandlerOptions{Resolver: resolver, Logger: log, Limits: c.limits, Production: c.production,
		CORSOrigins: c.corsOrigins, ClientIPHeader: c.clientHeader, Extensions: s.tel.Extensions(),
		Overload: graph.OverloadOptions{MaxInflight: c.maxInflight, MaxQueue: overloadQueue * c.maxInflight,
			MaxWait: overloadWait, OnRefuse: s.tel.Overloaded}}
	if s.viewLimit != nil {
		resolver.ViewLimit = s.viewLimit
	}
	if s.cache != nil {
		opt.Cache, writes.Cache, opt.Audit, hopt.PersistedQueries = s.cache, s.inv, s.audit, s.queries
		opt.Near = s.near
		if seams.Invalidated != nil {
			writes.Cache = announcing{s.inv, seams.Invalidated}
		}
	}
	if seams.Loaders != nil {
		seams.Loaders(&opt)
	}
	hopt.Loaders = loaders.NewFactory(opt)
	hopt.TrustedDocuments = s.trusted
	hopt.ResponseCache = newResponseCache(c.respCache, s.feed, s.counter, s.tel, seams.ResponseCache)
	if seams.Handler != nil {
		seams.Handler(&hopt)
	}
	watch(s, hopt.Loaders)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	mux.Handle("GET /readyz", readyz(s))
	mux.Handle("GET /metrics", s.tel.Handler())
	mux.Handle("/query", s.tel.Middleware(graph.NewHandler(hopt)))
	if !c.production {
		pg := playground.Handler("/query", log)
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.AssetPrefix, pg)
	}
	h := reqlog.Middleware(reqlog.AccessLog(log, reqlog.AccessOptions{Sample: c.accessSample}, mux))
	return h, hopt.Loaders, hopt.ResponseCache
}

// httpDrainTimeout is the part of a stop of at most stop (SHUTDOWN_TIMEOUT)
// that requests in flight may take: 10 s, which ReadTimeout and the slowest
// page fit in, or half of stop when that is shorter, so that the view
// counter's final flush, which comes after, always has at least the other
// half.
func httpDrainTimeout(stop time.Duration) time.Duration { return min(10*time.Second, stop/2) }

// httpServer bounds how long a client may take: to send its headers (a
// slowloris client holding connections open), its whole request, to read
// the response, and to keep an idle connection; and how large its header
// may be (maxHeader bytes; 431 past it, before a handler runs).
func httpServer(h http.Handler, maxHeader int) *http.Server {
	return &http.Server{
		Handler:           h,
		MaxHeaderBytes:    maxHeader,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
