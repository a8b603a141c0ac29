package views

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
)

// newBatchID returns a random 128-bit batch id. It must be unique forever:
// view_batches keeps applied ids, and a reused id would be taken for an
// applied batch and dropped.
func newBatchID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// localBatch is a set of views counted in process, under the id that it
// will be applied with.
type localBatch struct {
	id    string
	views map[int64]int64
}

func newLocalBatch() *localBatch {
	return &localBatch{id: newBatchID(), views: map[int64]int64{}}
}

// local holds the views counted in process while Redis cannot be used.
// They are flushed straight to SQL as a batch with an id of its own, so
// that a retry after a failed or unknown commit cannot count them twice.
// Once committed, their products are stale: their Redis display counts lack
// these views and must be dropped (Invalidate) before they are trusted
// again. Safe for concurrent use.
type local struct {
	mu       sync.Mutex
	cur      *localBatch        // collecting views
	inflight *localBatch        // taken by a flush; kept until committed
	queued   int64              // views in cur
	taken    int64              // views in inflight
	stale    map[int64]struct{} // committed, display counts not yet dropped
}

func newLocal() *local {
	return &local{cur: newLocalBatch(), stale: map[int64]struct{}{}}
}

// add counts one view of id and returns the views now waiting in cur.
func (l *local) add(id int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur.views[id]++
	l.queued++
	return l.queued
}

// addViews counts views (product → views) and returns the views now waiting
// in cur.
func (l *local) addViews(views map[int64]int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, n := range views {
		l.cur.views[id] += n
		l.queued += n
	}
	return l.queued
}

// snapshot returns, for ids, the views of each batch not yet known to be in
// SQL: the in-flight batch and the collecting one. The caller reads SQL
// after this and adds a batch's views only if SQL does not record its id as
// applied; views added to cur after the snapshot are simply not counted yet.
func (l *local) snapshot(ids []int64) []localBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []localBatch
	for _, b := range []*localBatch{l.inflight, l.cur} {
		if b == nil {
			continue
		}
		part := localBatch{id: b.id, views: map[int64]int64{}}
		for _, id := range ids {
			if n := b.views[id]; n > 0 {
				part.views[id] = n
			}
		}
		out = append(out, part)
	}
	return out
}

// take returns the batch to apply: the in-flight one left by a failed
// flush, or else the collecting one, which a fresh batch replaces. It
// returns nil when there is nothing to apply.
func (l *local) take() *localBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == nil && len(l.cur.views) > 0 {
		l.inflight, l.cur, l.taken, l.queued = l.cur, newLocalBatch(), l.queued, 0
	}
	return l.inflight
}

// snapshotAll returns copies of the batches not yet known to be in SQL:
// the in-flight one and the collecting one, each under its id.
func (l *local) snapshotAll() []localBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []localBatch
	for _, b := range []*localBatch{l.inflight, l.cur} {
		if b != nil && len(b.views) > 0 {
			out = append(out, localBatch{id: b.id, views: maps.Clone(b.views)})
		}
	}
	return out
}

// pending returns the views counted in process and not yet committed.
func (l *local) pending() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queued + l.taken
}

// done records that b is committed: its products become stale.
func (l *local) done(b *localBatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == b {
		l.inflight, l.taken = nil, 0
	}
	for id := range b.views {
		l.stale[id] = struct{}{}
	}
}

// takeStale empties the stale set and returns what it held, sorted.
func (l *local) takeStale() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := slices.Sorted(maps.Keys(l.stale))
	clear(l.stale)
	return ids
}

// restale puts back stale ids whose invalidation failed.
func (l *local) restale(ids []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.stale[id] = struct{}{}
	}
}

// highWater remembers the highest hits value this process returned for
// each product, so that a client never sees a product's count go down when
// the source of the count changes: Redis becoming unreachable (the
// fallback, SQL plus this process's views, lacks the views other instances
// left pending in Redis), or coming back (a display count that lacks the
// views counted in process until it is invalidated). It is bounded: two
// generations of at most size entries each; a product not read for two
// generations is forgotten. Safe for concurrent use.
type highWater struct {
	mu        sync.Mutex
	size      int
	cur, prev map[int64]int64
}

func newHighWater(size int) *highWater {
	return &highWater{size: size, cur: map[int64]int64{}, prev: map[int64]int64{}}
}

// raise returns max(v, the highest value returned for id), and remembers it.
func (h *highWater) raise(id, v int64) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.get(id); ok && old > v {
		v = old
	}
	h.set(id, v)
	return v
}

// bump adds a view counted by this process to the remembered value, if any.
func (h *highWater) bump(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.get(id); ok {
		h.set(id, old+1)
	}
}

func (h *highWater) get(id int64) (int64, bool) {
	if v, ok := h.cur[id]; ok {
		return v, true
	}
	v, ok := h.prev[id]
	return v, ok
}

func (h *highWater) set(id, v int64) {
	h.cur[id] = v
	if len(h.cur) >= h.size {
		h.prev, h.cur = h.cur, make(map[int64]int64, len(h.cur))
	}
}
