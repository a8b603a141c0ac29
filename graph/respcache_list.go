package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"

	"catalog-bff/graph/model"
)

// A products(ids:) query is rarely repeated whole: a cart, a carousel or a
// comparison asks for its own set of ids. Its answer is, though, one element
// per id, each a product under the same selection, and the same products
// are asked for by many such sets. The response cache keeps those elements:
// a request whose elements are all kept is assembled from them, and one
// with misses executes the operation for the missing ids only, keeping
// what that returns. An element is kept and dropped by the same rules as a
// whole response (its documents, its view counts, its life).
//
// An operation qualifies when its only root field is products, with no
// directive, and its ids come from a variable used nowhere else, so that
// nothing else in the response depends on which ids were asked for. The
// first execution of a document tells whether it qualifies (listPlan),
// from the operation gqlgen has parsed and validated.

// learnPlan keeps the plan an execution of p found, and the elements of
// its response, so that the next request of the operation, for any ids,
// finds those kept.
func (c *ResponseCache) learnPlan(p *graphql.RawParams, op opID, accept string, plan *listPlan, rec *recording,
	contentType string, written []byte, m mark, start time.Time) {
	c.plans.Set(op, plan)
	if lr, ok := c.listRequestOf(p, op, accept); ok {
		c.keepElements(lr, lr.ids, rec, contentType, written, m, start)
	}
}

// listRequest is a request whose response is assembled from elements.
type listRequest struct {
	plan *listPlan
	ids  []int64 // as asked for, in order, repeats included
	base string  // an element's key without its id
}

// listRequestOf returns r's element request when r's operation has a plan
// and its ids are ones the operation would accept; ok is false otherwise,
// and r is answered as any other.
func (c *ResponseCache) listRequestOf(p *graphql.RawParams, op opID, accept string) (lr listRequest, ok bool) {
	plan, found := c.plans.GetIfPresent(op)
	if !found || plan.off.Load() {
		return lr, false
	}
	raw, isList := p.Variables[plan.idsVar].([]any)
	if !isList || len(raw) == 0 || len(raw) > maxIDs {
		return lr, false // executed: the resolver says what is wrong
	}
	ids := make([]int64, len(raw))
	for i, v := range raw {
		id, err := model.UnmarshalInt64ID(v)
		if err != nil {
			return lr, false
		}
		ids[i] = id
	}
	others := maps.Clone(p.Variables)
	delete(others, plan.idsVar)
	key, ok := cacheKey(op, others, accept)
	if !ok {
		return lr, false
	}
	// A whole response's key ends in its variables' JSON, which never
	// holds a NUL byte: element keys cannot meet one.
	return listRequest{plan: plan, ids: ids, base: key + "\x00#"}, true
}

// serveList answers lr from its elements, executing the operation for
// those that are not kept. It reports false, having written nothing, when
// the request must be executed whole instead: an element could not be
// executed or kept, its view counts could not be read, or the list asked
// for would exceed the complexity limit.
func (c *ResponseCache) serveList(w http.ResponseWriter, r *http.Request, next http.Handler, lr listRequest, start time.Time) bool {
	entries := make(map[int64]*cachedResponse, len(lr.ids))
	var missing []int64
	for _, id := range lr.ids {
		if _, seen := entries[id]; seen || slices.Contains(missing, id) {
			continue
		}
		if e := c.lookup(lr.base + strconv.FormatInt(id, 10)); e != nil {
			entries[id] = e
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		done, built := c.fillList(w, r, next, lr, missing)
		if done || built == nil {
			return done
		}
		maps.Copy(entries, built)
	}
	ordered := make([]*cachedResponse, len(lr.ids))
	cost := 0
	for i, id := range lr.ids {
		ordered[i] = entries[id]
		cost = max(cost, ordered[i].cost)
	}
	if lr.plan.limit > 0 && listCost(cost, len(lr.ids)) > lr.plan.limit {
		return false // executed whole, and refused as it should be
	}
	views := c.viewsOf(r.Context(), ordered)
	if views == nil {
		return false
	}
	body, left := c.assemble(lr.plan.alias, ordered, views, start)
	first := ordered[0]
	h := w.Header()
	h.Set("Content-Type", first.contentType)
	etag := etagOf(body)
	setCaching(h, etag, left)
	if r.Method == http.MethodGet && etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
	} else {
		w.Write(body)
	}
	if len(missing) > 0 {
		c.observe(cacheMiss)
		return true
	}
	c.observe(cacheHit)
	if c.opt.Observer != nil {
		c.opt.Observer.CachedResponse(r.Context(), first.operation, start)
	}
	return true
}

// assemble writes the response of the elements' views, in order, and
// returns how long HTTP caches may keep it: the least any element has
// left.
func (c *ResponseCache) assemble(alias string, entries []*cachedResponse, views []*rendering, now time.Time) ([]byte, time.Duration) {
	n := len(alias) + 20
	for _, v := range views {
		n += len(v.body)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"data":{"`...)
	b = append(b, alias...)
	b = append(b, `":[`...)
	left := time.Duration(1<<63 - 1)
	for i, v := range views {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, elementOf(v.body)...)
		left = min(left, c.left(entries[i], v, now))
	}
	return append(b, "]}}"...), left
}

// An element is kept as the response it would be on its own, {"data":E},
// so that its view counts are found and spliced by the paths a whole
// response's are.
const elementPrefix = `{"data":`

// elementOf returns the element E of a kept {"data":E}.
func elementOf(body []byte) []byte {
	return body[len(elementPrefix) : len(body)-1]
}

// fillList executes lr's operation for the missing ids and returns the
// element of each, kept unless the feed moved while they were built (then
// they are served once, as an executed response would be). done reports
// that it answered the request itself (the service refused the work:
// overloaded); built is nil when the elements could not be built.
func (c *ResponseCache) fillList(w http.ResponseWriter, r *http.Request, next http.Handler, lr listRequest, missing []int64) (done bool, built map[int64]*cachedResponse) {
	p := paramsOf(r.Context())
	np := *p
	np.Variables = maps.Clone(p.Variables)
	ids := make([]any, len(missing))
	for i, id := range missing {
		ids[i] = strconv.FormatInt(id, 10)
	}
	np.Variables[lr.plan.idsVar] = ids
	sub, err := withParamsOf(r, &np)
	if err != nil {
		return false, nil
	}
	m, start := c.mark(), time.Now()
	rec := &recording{}
	out := &bufferWriter{header: http.Header{}}
	next.ServeHTTP(out, sub.WithContext(withRecording(sub.Context(), rec)))
	if out.status == http.StatusServiceUnavailable {
		maps.Copy(w.Header(), out.header)
		w.WriteHeader(out.status)
		w.Write(out.buf.Bytes())
		return true, nil
	}
	if rec.isUncacheable() {
		lr.plan.off.Store(true)
	}
	if out.status != http.StatusOK {
		return false, nil
	}
	return false, c.keepElements(lr, missing, rec, out.header.Get("Content-Type"), out.buf.Bytes(), m, start)
}

// keepElements splits the response an execution for ids (each once, in
// the order asked) wrote, and keeps each element under its id, unless the
// feed moved since m. It returns the elements by id, or nil when the
// response was not storable or does not split.
func (c *ResponseCache) keepElements(lr listRequest, ids []int64, rec *recording, contentType string,
	written []byte, m mark, start time.Time) map[int64]*cachedResponse {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.storable {
		return nil
	}
	body := rec.body
	if body == nil {
		body = withoutExtensions(written)
	}
	var resp struct {
		Data map[string][]json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Data[lr.plan.alias]) != len(ids) {
		return nil
	}
	elems := resp.Data[lr.plan.alias]
	cost := 0
	if k := len(ids); rec.complexity > 1 {
		cost = (rec.complexity - 1 + k - 1) / k
	}
	built := make(map[int64]*cachedResponse, len(ids))
	for i, id := range ids {
		if built[id] != nil {
			continue
		}
		body := make([]byte, 0, len(elementPrefix)+len(elems[i])+1)
		body = append(append(append(body, elementPrefix...), elems[i]...), '}')
		e := &cachedResponse{contentType: contentType, operation: rec.operation, docs: sortedDocs(rec.docs, i),
			hits: elementHits(rec.hits, lr.plan.alias, i), weight: uint64(len(body)), stored: time.Now(),
			ttl: rec.ttl, cost: cost}
		e.view.Store(&rendering{body: body, etag: etagOf(body), at: start})
		c.store(lr.base+strconv.FormatInt(id, 10), e, m)
		built[id] = e
	}
	return built
}

// elementHits returns the view counts of element i of the list at alias,
// with paths from the element's own root.
func elementHits(hits []hitsField, alias string, i int) []hitsField {
	var out []hitsField
	for _, h := range hits {
		if len(h.path) > 2 && h.path[0] == ast.PathName(alias) && h.path[1] == ast.PathIndex(i) {
			out = append(out, hitsField{path: h.path[2:], id: h.id})
		}
	}
	return out
}

// viewsOf returns what a hit on each of entries serves, reading the view
// counts of all those that need it in one call. It returns nil when they
// cannot be read.
func (c *ResponseCache) viewsOf(ctx context.Context, entries []*cachedResponse) []*rendering {
	views := make([]*rendering, len(entries))
	type stale struct {
		i   int
		gen uint64
	}
	var old []stale
	var ids []int64
	for i, e := range entries {
		view := e.view.Load()
		if c.current(e, view) {
			views[i] = view
			continue
		}
		old = append(old, stale{i, e.gen.Load()})
		if e.liveOnce.Do(func() { e.live, _ = cutHits(view.body, e.hits) }); e.live == nil {
			return nil
		}
		ids = append(ids, e.live.distinct...)
	}
	if len(old) == 0 {
		return views
	}
	at := time.Now()
	counts, err := c.opt.Hits.Hits(ctx, slices.Compact(slices.Sorted(slices.Values(ids))))
	if err != nil {
		return nil
	}
	for _, s := range old {
		if views[s.i] = c.rerender(entries[s.i], counts, s.gen, at); views[s.i] == nil {
			return nil
		}
	}
	return views
}

// bufferWriter keeps a response in memory.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }

func (w *bufferWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.buf.Write(b)
}

// complexityOf returns the complexity of the operation in ctx and the limit
// it was checked against, 0 and 0 when none was computed.
func complexityOf(ctx context.Context) (complexity, limit int) {
	if s := extension.GetComplexityStats(ctx); s != nil {
		return s.Complexity, s.ComplexityLimit
	}
	return 0, 0
}
