package loaders

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// Near is the near cache: decoded Product, Seller and Category documents
// kept in process, so that a warm page needs no Redis round trip for them
// and no batch window. It is bounded in entries and bytes, and safe for
// concurrent use. Documents are shared between requests and must never be
// changed.
//
// It keeps the cache's guarantees by following the Redis cache's
// invalidations (it is the redisstore.Cache's Listener):
//   - this instance's writes reach it before the write answers
//     (Invalidated, from redisstore.Cache.Invalidate), so read-your-writes holds
//     on one instance;
//   - other instances' writes reach it through the invalidation stream
//     (redisstore.Cache.Watch), within the stream's delivery delay;
//   - an invalidation leaves a marker with the version the write created,
//     and a fill of an older version never replaces it, so that a reader
//     that read Redis before the write cannot put its copy back after;
//   - while the stream is down or the Redis cache's reads are fenced it
//     holds and serves nothing, and when either happens every entry goes
//     (Reset): what was published meanwhile is never heard;
//   - a fill that started before a Reset is dropped;
//   - no entry lives longer than MaxStaleness, which bounds what a lost
//     message could cost.
type Near struct {
	docs     *otter.Cache[nearKey, nearEntry]
	opt      NearOptions
	up       atomic.Bool   // the invalidation stream is up
	epoch    atomic.Uint64 // advances on every Reset
	seq      atomic.Uint64 // advances on every invalidation and Reset
	hits     atomic.Int64
	misses   atomic.Int64
	subsMu   sync.Mutex
	subs     atomic.Pointer[[]nearSubscriber]
	minBytes uint32 // the weight of the smallest entry
}

// NearOptions configures a Near.
type NearOptions struct {
	// MaxEntries and MaxBytes bound the documents held. Both are needed.
	MaxEntries int
	MaxBytes   int64
	// MaxStaleness is the most an entry lives, invalidated or not. Default
	// 1 min.
	MaxStaleness time.Duration
	// Readable reports whether the Redis cache's reads are open
	// (redisstore.Cache.Readable). Nil means always.
	Readable func() bool
}

type nearKey struct {
	kind store.Kind
	id   int64
}

// nearEntry is a document (nil: no row has the id) at its version, or a
// marker left by an invalidation of that version.
type nearEntry struct {
	doc     any
	version int64
	marker  bool
	weight  uint32
}

type nearSubscriber struct {
	invalidated func(kind store.Kind, id int64)
	reset       func()
}

// markerBytes is what a marker weighs.
const markerBytes = 64

// NewNear returns a near cache, or nil when opt.MaxEntries or opt.MaxBytes
// is 0: a nil *Near holds nothing and answers every lookup with a miss.
// It holds nothing either until StreamUp(true).
func NewNear(opt NearOptions) *Near {
	if opt.MaxEntries <= 0 || opt.MaxBytes <= 0 {
		return nil
	}
	if opt.MaxStaleness <= 0 {
		opt.MaxStaleness = time.Minute
	}
	if opt.Readable == nil {
		opt.Readable = func() bool { return true }
	}
	n := &Near{opt: opt, minBytes: uint32(min(max(opt.MaxBytes/int64(opt.MaxEntries), 1), 1<<31))}
	n.subs.Store(&[]nearSubscriber{})
	n.docs = otter.Must(&otter.Options[nearKey, nearEntry]{
		MaximumWeight: uint64(opt.MaxBytes),
		Weigher:       func(_ nearKey, e nearEntry) uint32 { return e.weight },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[nearKey, nearEntry]) time.Duration {
			return SpreadLife(opt.MaxStaleness)
		}),
	})
	return n
}

// SpreadLife returns a life between 80 % and 100 % of d, at random, for
// in-process entries bounded by d: documents or responses stored together,
// as a warm-up or a spike stores them, must not expire together, or every
// page that shows them is executed again at the same moment.
func SpreadLife(d time.Duration) time.Duration { return d - rand.N(max(d/5, 1)) }

// weight bounds both entries and bytes: no entry weighs less than
// MaxBytes/MaxEntries, so at most MaxEntries fit in MaxBytes.
func (n *Near) weight(bytes int) uint32 {
	return max(uint32(min(bytes, 1<<31)), n.minBytes)
}

// Live reports whether entries may be served and kept: the invalidation
// stream is up and the Redis cache's reads are open.
func (n *Near) Live() bool {
	return n != nil && n.up.Load() && n.opt.Readable()
}

// Epoch is taken before a read whose result may fill the near cache; the
// fill is dropped if a Reset came in between.
func (n *Near) Epoch() uint64 {
	if n == nil {
		return 0
	}
	return n.epoch.Load()
}

// Seq advances on every invalidation and every Reset.
func (n *Near) Seq() uint64 {
	if n == nil {
		return 0
	}
	return n.seq.Load()
}

// get returns the document of kind and id (nil: no row has the id) and
// whether the near cache holds it.
func (n *Near) get(kind store.Kind, id int64) (any, bool) {
	if !n.Live() {
		return nil, false
	}
	e, ok := n.docs.GetIfPresent(nearKey{kind, id})
	if !ok || e.marker {
		n.misses.Add(1)
		return nil, false
	}
	n.hits.Add(1)
	return e.doc, true
}

// holds reports whether the near cache holds a document of kind and id
// (or its negative entry), without counting a hit or a miss.
func (n *Near) holds(kind store.Kind, id int64) bool {
	if !n.Live() {
		return false
	}
	e, ok := n.docs.GetIfPresent(nearKey{kind, id})
	return ok && !e.marker
}

// fill keeps a document (nil: no row) read at epoch, of bytes encoded
// bytes, unless a Reset came since, the near cache is not live, or it holds
// the same or a newer version, or a marker of a newer one.
func (n *Near) fill(kind store.Kind, id, version int64, doc any, bytes int, epoch uint64) {
	if !n.Live() || n.epoch.Load() != epoch {
		return
	}
	e := nearEntry{doc: doc, version: version, weight: n.weight(bytes)}
	n.docs.Compute(nearKey{kind, id}, func(old nearEntry, found bool) (nearEntry, otter.ComputeOp) {
		if found && (old.version > version || (old.version == version && !old.marker)) {
			return old, otter.CancelOp
		}
		return e, otter.WriteOp
	})
	if n.epoch.Load() != epoch { // a Reset ran during the Compute
		n.docs.Invalidate(nearKey{kind, id})
	}
}

// Invalidated leaves a marker for each invalidation (redisstore.Listener), and
// tells the subscribers.
func (n *Near) Invalidated(invs []store.Invalidation) {
	if n == nil {
		return
	}
	for _, inv := range invs {
		m := nearEntry{version: inv.Version, marker: true, weight: n.weight(markerBytes)}
		n.docs.Compute(nearKey{inv.Kind, inv.ID}, func(old nearEntry, found bool) (nearEntry, otter.ComputeOp) {
			if found && (old.version > inv.Version || (old.version == inv.Version && !old.marker)) {
				return old, otter.CancelOp // a newer marker, or a document of that version or newer
			}
			return m, otter.WriteOp
		})
		n.seq.Add(1)
	}
	for _, s := range *n.subs.Load() {
		for _, inv := range invs {
			s.invalidated(inv.Kind, inv.ID)
		}
	}
}

// Reset drops every entry (redisstore.Listener) and tells the subscribers.
func (n *Near) Reset() {
	if n == nil {
		return
	}
	n.epoch.Add(1)
	n.seq.Add(1)
	n.docs.InvalidateAll()
	for _, s := range *n.subs.Load() {
		s.reset()
	}
}

// StreamUp follows the invalidation stream (redisstore.Listener): down, it stops
// serving and drops every entry; up, it drops every entry (what was
// published while it was down is unknown) and serves again.
func (n *Near) StreamUp(up bool) {
	if n == nil {
		return
	}
	if !up {
		n.up.Store(false)
	}
	n.Reset()
	if up {
		n.up.Store(true)
	}
}

// Subscribe registers callbacks told of each invalidated document and of
// each Reset, for caches built on the near cache's documents (the response
// cache). They run on the invalidating goroutine: keep them short.
func (n *Near) Subscribe(invalidated func(kind store.Kind, id int64), reset func()) {
	if n == nil {
		return
	}
	n.subsMu.Lock()
	defer n.subsMu.Unlock()
	subs := append(append([]nearSubscriber{}, *n.subs.Load()...), nearSubscriber{invalidated, reset})
	n.subs.Store(&subs)
}

// NearStats are the near cache's counters.
type NearStats struct {
	Hits, Misses int64
	Entries      int
	Bytes        uint64 // the weighted size
}

// Stats returns the near cache's counters.
func (n *Near) Stats() NearStats {
	if n == nil {
		return NearStats{}
	}
	return NearStats{Hits: n.hits.Load(), Misses: n.misses.Load(),
		Entries: n.docs.EstimatedSize(), Bytes: n.docs.WeightedSize()}
}

var _ redisstore.Listener = (*Near)(nil)
