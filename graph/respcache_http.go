package graph

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// Middleware answers a request from the cache when it can, before gqlgen
// parses anything; otherwise it runs next and stores what the request's
// recording allows. It must run after guard, whose parameters it keys on.
//
// Every response it lets through says how HTTP caches may keep it:
//   - a request with Authorization is neither looked up nor stored, and
//     gets "Cache-Control: private, no-store";
//   - a response served from or stored in the cache gets a strong ETag
//     (the SHA-256 of its body), "Vary: Accept" and "public, max-age=N",
//     N the whole seconds it has left in the cache, and for a response
//     with view counts at most what is left of HitsMaxStaleness; a GET whose
//     If-None-Match names that ETag gets 304 Not Modified, with no body;
//   - every other response gets "no-store".
func (c *ResponseCache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		op, bypass := c.operationOf(r)
		if bypass == "" && c.serveFromCache(w, r, next, op, start) {
			return
		}
		if bypass == "" {
			bypass = "no-store" // nothing to key on
		}
		w.Header().Set("Cache-Control", bypass)
		c.observe(cacheBypass)
		next.ServeHTTP(w, r)
	})
}

// serveFromCache answers r from the cache, or executes it and stores what
// it may; it reports false, having done nothing, when r has no key. A
// products(ids:) list with a plan is assembled from its elements, and its
// whole key, which it would not use, is not computed.
func (c *ResponseCache) serveFromCache(w http.ResponseWriter, r *http.Request, next http.Handler, op opID, start time.Time) bool {
	p, accept := paramsOf(r.Context()), r.Header.Get("Accept")
	if lr, ok := c.listRequestOf(p, op, accept); ok && c.serveList(w, r, next, lr, start) {
		return true
	}
	key, ok := cacheKey(op, p.Variables, accept)
	if !ok {
		return false
	}
	if e := c.lookup(key); e != nil {
		if view := c.viewOf(r.Context(), e); view != nil {
			c.serveHit(w, r, e, view, start)
			return true
		}
	}
	c.execute(w, r, next, key, p, op)
	return true
}

// operationOf returns the request's operation, or the Cache-Control of a
// request that bypasses the cache: one that carries Authorization, that
// comes while the feed is down, or that has no document to key on.
func (c *ResponseCache) operationOf(r *http.Request) (op opID, bypass string) {
	switch {
	case r.Header.Get("Authorization") != "":
		return op, "private, no-store"
	case !c.opt.Feed.Live():
		return op, "no-store"
	}
	op, ok := opOf(paramsOf(r.Context()))
	if !ok {
		return op, "no-store"
	}
	return op, ""
}

// serveHit writes a stored response, or 304 when the client has it.
func (c *ResponseCache) serveHit(w http.ResponseWriter, r *http.Request, e *cachedResponse, view *rendering, start time.Time) {
	h := w.Header()
	h.Set("Content-Type", e.contentType)
	setCaching(h, view.etag, c.left(e, view, time.Now()))
	if r.Method == http.MethodGet && etagMatches(r.Header.Get("If-None-Match"), view.etag) {
		w.WriteHeader(http.StatusNotModified)
	} else {
		w.Write(view.body)
	}
	c.observe(cacheHit)
	if c.opt.Observer != nil {
		c.opt.Observer.CachedResponse(r.Context(), e.operation, start)
	}
}

// execute runs next with a recording, holding back a storable response
// until it is stored, so that its headers can say so.
func (c *ResponseCache) execute(w http.ResponseWriter, r *http.Request, next http.Handler, key string,
	p *graphql.RawParams, op opID) {
	m, start := c.mark(), time.Now()
	rec := &recording{}
	bw := &holdingWriter{ResponseWriter: w, rec: rec}
	next.ServeHTTP(bw, r.WithContext(withRecording(r.Context(), rec)))
	if plan := rec.listPlan(); plan != nil {
		c.learnPlan(p, op, r.Header.Get("Accept"), plan, rec, w.Header().Get("Content-Type"), bw.buf.Bytes(), m, start)
	}
	if !bw.holding {
		c.observe(cacheUncacheable)
		return
	}
	e := rec.entry(w.Header().Get("Content-Type"), start, bw.buf.Bytes())
	if !c.store(key, e, m) {
		w.Header().Set("Cache-Control", "no-store")
		bw.release(false)
		c.observe(cacheUncacheable)
		return
	}
	view := e.view.Load()
	etag := view.etag
	if !bytes.Equal(bw.buf.Bytes(), view.body) { // extensions.cost, outside production
		etag = etagOf(bw.buf.Bytes())
	}
	setCaching(w.Header(), etag, c.left(e, view, e.stored))
	bw.release(r.Method == http.MethodGet && etagMatches(r.Header.Get("If-None-Match"), etag))
	c.observe(cacheMiss)
}

// entry builds the cached response from a storable recording whose view
// counts, if any, were read after start, and written, the bytes the
// transport wrote.
func (rec *recording) entry(contentType string, start time.Time, written []byte) *cachedResponse {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.body == nil {
		rec.body = withoutExtensions(written)
	}
	e := &cachedResponse{contentType: contentType, operation: rec.operation, docs: sortedDocs(rec.docs, -1),
		hits: rec.hits, weight: uint64(len(rec.body)), stored: time.Now(), ttl: rec.ttl}
	e.view.Store(&rendering{body: rec.body, etag: etagOf(rec.body), at: start})
	return e
}

// sortedDocs returns the documents of noted that element elem of a root
// list is built from (elem -1: the whole response's), sorted, each once.
func sortedDocs(noted []notedDoc, elem int) []docKey {
	docs := make([]docKey, 0, len(noted))
	for _, d := range noted {
		if elem < 0 || d.elem < 0 || d.elem == elem {
			docs = append(docs, d.docKey)
		}
	}
	slices.SortFunc(docs, func(a, b docKey) int { return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.id, b.id)) })
	return slices.Compact(docs)
}

// viewOf returns what a hit on e serves: its rendering, or one with its
// view counts read again when they are too old. It returns nil when they
// cannot be read (the request then executes, and says why).
func (c *ResponseCache) viewOf(ctx context.Context, e *cachedResponse) *rendering {
	view := e.view.Load()
	if c.current(e, view) {
		return view
	}
	gen, at := e.gen.Load(), time.Now()
	e.liveOnce.Do(func() { e.live, _ = cutHits(view.body, e.hits) })
	if e.live == nil {
		return nil
	}
	counts, err := c.opt.Hits.Hits(ctx, e.live.distinct)
	if err != nil {
		return nil
	}
	return c.rerender(e, counts, gen, at)
}

// current reports whether view, e's rendering, may be served as it is:
// it shows no view count, or counts read within HitsMaxStaleness and since
// the last view of one of its products counted here.
func (c *ResponseCache) current(e *cachedResponse, view *rendering) bool {
	return len(e.hits) == 0 || (time.Since(view.at) < c.opt.HitsMaxStaleness && view.gen == e.gen.Load())
}

// rerender returns e's rendering with counts, read at at for e's gen,
// and keeps it unless a newer one was kept meanwhile. It returns nil when
// a count is missing.
func (c *ResponseCache) rerender(e *cachedResponse, counts map[int64]int64, gen uint64, at time.Time) *rendering {
	body, ok := e.live.render(counts)
	if !ok {
		return nil
	}
	fresh := &rendering{body: body, etag: etagOf(body), at: at, gen: gen}
	// Keep the newest reading: one that started later, or after a view
	// counted here. A client never sees a count it was shown go back.
	for old := e.view.Load(); old.gen < gen || (old.gen == gen && old.at.Before(at)); old = e.view.Load() {
		if e.view.CompareAndSwap(old, fresh) {
			break
		}
	}
	return fresh
}

// left is how long HTTP caches may keep view from now: MaxAge, or what is
// left of e's life if less, and, when it shows view counts, of their
// staleness bound.
func (c *ResponseCache) left(e *cachedResponse, view *rendering, now time.Time) time.Duration {
	left := min(c.opt.MaxAge, e.ttl-now.Sub(e.stored))
	if len(e.hits) > 0 {
		left = min(left, c.opt.HitsMaxStaleness-now.Sub(view.at))
	}
	return left
}

// withoutExtensions returns a copy of body, a response with no extensions
// of its own when the recorder saw it, without those added after it: they
// are the last member of gqlgen's response object.
func withoutExtensions(body []byte) []byte {
	if i := bytes.LastIndex(body, []byte(`,"extensions":`)); i >= 0 {
		return append(body[:i:i], '}')
	}
	return bytes.Clone(body)
}

// setCaching sets the headers of a response an HTTP cache may keep for
// left. The response's content type follows Accept.
func setCaching(h http.Header, etag string, left time.Duration) {
	h.Add("Vary", "Accept")
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(max(left, 0)/time.Second)))
}

// etagOf is a strong entity tag of body.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatches reports whether an If-None-Match header names etag, by the
// weak comparison RFC 9110 prescribes for it.
func etagMatches(header, etag string) bool {
	for header != "" {
		var tag string
		tag, header, _ = strings.Cut(header, ",")
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// holdingWriter passes a response through, unless the recording holds a
// storable body when the response starts: then it holds the response back
// for release.
type holdingWriter struct {
	http.ResponseWriter
	rec     *recording
	decided bool
	holding bool
	status  int
	buf     bytes.Buffer
}

func (w *holdingWriter) WriteHeader(status int) {
	if w.decided {
		if !w.holding {
			w.ResponseWriter.WriteHeader(status)
		}
		return
	}
	w.decided, w.status = true, status
	w.rec.mu.Lock()
	w.holding = status == http.StatusOK && w.rec.storable
	w.rec.mu.Unlock()
	if !w.holding {
		w.Header().Set("Cache-Control", "no-store")
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *holdingWriter) Write(b []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.holding {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *holdingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// release writes what was held back: 304 and no body when notModified.
func (w *holdingWriter) release(notModified bool) {
	if notModified {
		w.ResponseWriter.WriteHeader(http.StatusNotModified)
		return
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.ResponseWriter.Write(w.buf.Bytes())
}
