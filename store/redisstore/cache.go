package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Cache is the Redis cache in front of the catalogue's SQL reads. It stores
// one entry per document under prefix + generation + kind + id, for example
// "catalog:v1:g1:product:42". The prefix carries the entry format's version, so
// that a change to a cached document's shape starts with a cold cache instead
// of undecodable entries.
//
// An entry is a document with the version of its row, a negative entry
// saying that no row has that id, or an invalidation marker left by a write.
// Documents live for TTL with ±Jitter, so that keys filled together do not
// expire together; negative entries live for NegativeTTL, markers for
// MarkerTTL. Cache is safe for concurrent use.
//
// Writes never go backwards. A write-back (Put) and an invalidation
// (Invalidate) replace an entry only when they carry a newer version: a
// marker carries the version the write created, a negative entry counts as
// version 0. So a reader that read SQL before a write committed, and writes
// back after the write invalidated, cannot put the old row back: its
// version is older than the marker's. The first reader after the write
// brings a document at the marker's version, which replaces the marker at
// once.
//
// A circuit breaker guards every call: after a few timeouts or connection
// failures in a row it opens, and calls fail at once with
// ErrCacheUnavailable instead of waiting on a Redis that does not answer.
// Reads are also fenced whenever an invalidation may have been missed (the
// breaker opened, or an Invalidate failed): Get then answers
// ErrCacheUnavailable until Unfence, which the invalidation worker calls
// once every pending invalidation has reached Redis. Write-backs stay
// allowed while fenced: being versioned, they cannot overwrite a newer
// entry, and a pending invalidation still outranks them.
//
// Keys carry a generation (catalog:v1:g1:product:42). SetGeneration moves
// every instance to an empty key space at once, the last resort when
// invalidations cannot be delivered.
type Cache struct {
	rdb     redis.UniversalClient
	cluster bool // rdb is a Redis Cluster: batches are per-document pipelines
	opt     CacheOptions
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	gen     atomic.Int64

	fenceMu sync.Mutex
	fenced  atomic.Bool // written under fenceMu
	epoch   int64       // counts Fence calls; under fenceMu

	stats struct{ oomInvalidations atomic.Int64 }
}

// Strategy is how a Cache fills and invalidates.
type Strategy uint8

const (
	// Versioned fills and invalidates only forward in version, as described
	// on Cache. It is the default.
	Versioned Strategy = iota
	// PlainDelete is textbook cache-aside: an unconditional SET on fill and
	// a DEL on invalidation. It lets a racing reader put stale data back,
	// and exists so that tests can show the race that Versioned closes.
	PlainDelete
)

// CacheOptions configures a Cache. Zero fields take the defaults.
type CacheOptions struct {
	Prefix      string        // default "catalog:v1:"
	TTL         time.Duration // default 1h
	Jitter      float64       // fraction of TTL, default 0.1 (±10 %)
	NegativeTTL time.Duration // default 30s
	// MarkerTTL is how long an invalidation marker lives. It must outlast
	// the slowest read that can race a write: a reader that fetched before
	// the write and writes back after the marker expired could put its old
	// row back. Default 1m, twice the server's write timeout.
	MarkerTTL time.Duration
	Timeout   time.Duration // deadline of each call, default 50ms
	Strategy  Strategy
	Breaker   BreakerOptions
	// Listener is told of every invalidation and of every moment one may
	// have been missed, so that copies kept in process (the near cache)
	// can follow. Default none.
	Listener Listener
}

// Listener follows what a Cache learns about the freshness of documents,
// for copies kept outside Redis. Its methods must be quick and safe for
// concurrent use.
type Listener interface {
	// Invalidated is told of invalidations: this instance's, before they
	// are sent to Redis, and every instance's, as Watch receives them.
	Invalidated(invs []store.Invalidation)
	// Reset is told that invalidations may have been missed: reads were
	// fenced, or the key generation changed. Every copy must go.
	Reset()
	// StreamUp is told when Watch's subscription is confirmed (true) and
	// when it is lost (false). Copies may be kept only while it is up:
	// whatever was published while it was down was missed.
	StreamUp(up bool)
}

type nopListener struct{}

func (nopListener) Invalidated([]store.Invalidation) {}
func (nopListener) Reset()                           {}
func (nopListener) StreamUp(bool)                    {}

// NewCache returns a cache over rdb. Its reads start fenced, until an
// Invalidator's Drain has delivered what the outbox holds.
func NewCache(rdb redis.UniversalClient, opt CacheOptions) *Cache {
	if opt.Prefix == "" {
		opt.Prefix = "catalog:v1:"
	}
	if opt.TTL <= 0 {
		opt.TTL = time.Hour
	}
	if opt.Jitter <= 0 || opt.Jitter >= 1 {
		opt.Jitter = 0.1
	}
	if opt.NegativeTTL <= 0 {
		opt.NegativeTTL = 30 * time.Second
	}
	if opt.MarkerTTL <= 0 {
		opt.MarkerTTL = time.Minute
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	if opt.Listener == nil {
		opt.Listener = nopListener{}
	}
	c := &Cache{rdb: rdb, opt: opt}
	_, c.cluster = rdb.(*redis.ClusterClient)
	c.breaker = newBreaker(opt.Breaker, c.Fence)
	c.gen.Store(1)
	// A new process has not looked at the outbox yet: an instance that died
	// between a commit and its invalidation may have left a stale entry.
	// Reads open at the Invalidator's first Drain.
	c.fenced.Store(true)
	return c
}

// Client returns the Redis client under the cache.
func (c *Cache) Client() redis.UniversalClient { return c.rdb }

// SetGeneration sets the key generation. Entries of other generations are
// never read again and expire with their TTL.
func (c *Cache) SetGeneration(gen int64) {
	if c.gen.Swap(gen) != gen {
		c.opt.Listener.Reset()
	}
}

// Generation returns the key generation in use.
func (c *Cache) Generation() int64 { return c.gen.Load() }

// Fenced reports whether reads are fenced (see Cache), and the fence's
// epoch, for UnfenceIf.
func (c *Cache) Fenced() (bool, int64) {
	c.fenceMu.Lock()
	defer c.fenceMu.Unlock()
	return c.fenced.Load(), c.epoch
}

// Fence stops reads until UnfenceIf, and tells the Listener that
// invalidations may have been missed.
func (c *Cache) Fence() {
	c.fenceMu.Lock()
	c.epoch++
	c.fenced.Store(true)
	c.fenceMu.Unlock()
	c.opt.Listener.Reset()
}

// Readable reports whether reads are open: not fenced. A copy of a
// document kept in process may be served only while they are.
func (c *Cache) Readable() bool { return !c.fenced.Load() }

// UnfenceIf lets reads back in, unless the cache was fenced again since
// Fenced returned epoch: the caller saw no pending invalidation, but one
// may have failed since. It reports whether reads are open.
func (c *Cache) UnfenceIf(epoch int64) bool {
	c.fenceMu.Lock()
	defer c.fenceMu.Unlock()
	if c.epoch == epoch {
		c.fenced.Store(false)
	}
	return !c.fenced.Load()
}

// Ping checks, through the breaker, that Redis answers.
func (c *Cache) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	return c.guard(func() error { return c.rdb.Ping(ctx).Err() })
}

// EntryState says what a cache read found for one key.
type EntryState uint8

// The states of an Entry.
const (
	Miss        EntryState = iota // no entry
	Hit                           // a document, in Data
	Absent                        // a negative entry: no row has this id
	Corrupt                       // an entry that does not decode; treat it as a miss
	Invalidated                   // a marker left by a write; a miss
)

// Entry is what the cache holds for one id.
type Entry struct {
	State   EntryState
	Version int64  // the row's version, for a Hit or an Invalidated marker
	Data    []byte // the encoded document, for a Hit
	Raw     []byte // the entry as stored, for Fill.Replace
}

// Fill is one entry to write back: a document (Data) at its row's Version,
// or, when Absent is set, a negative entry.
type Fill struct {
	ID      int64
	Version int64
	Data    []byte
	Absent  bool
	// Replace is an entry that the reader found and could not decode (its
	// Entry.Raw). If the key still holds exactly that, the fill replaces it
	// whatever its version says; if a write changed the key meanwhile, the
	// usual version order applies.
	Replace []byte
}

// Entries are stored as "d:<version>:<document>", "n:" or "t:<version>:",
// so that the version can be read, in Lua too, without decoding the
// document.
const (
	docTag    = "d:"
	absentTag = "n:"
	markerTag = "t:"
)

// Key returns the Redis key of a document, for tools and tests.
func (c *Cache) Key(kind store.Kind, id int64) string { return c.key(kind, id) }

// key is prefix + "g<generation>:{<kind>:<id>}". The hash tag puts a
// document's entry and its fill lease in one Redis Cluster slot, while
// different documents spread over all slots.
func (c *Cache) key(kind store.Kind, id int64) string {
	var buf [96]byte // on the stack: the key's only allocation is the string
	b := append(buf[:0], c.opt.Prefix...)
	b = append(b, 'g')
	b = strconv.AppendInt(b, c.gen.Load(), 10)
	b = append(b, ":{"...)
	b = append(b, kind...)
	b = append(b, ':')
	b = strconv.AppendInt(b, id, 10)
	return string(append(b, '}'))
}

// Get reads the entries of ids, in order, in one round trip: one MGET, or
// on a cluster one pipeline of GETs, which go-redis sends to every master
// holding some of the keys in parallel (one exchange per such master; a
// cluster MGET would be split into one command per slot, nearly one per
// key). On error no entry is returned, and the caller should treat every id
// as a miss. While the breaker is open or reads are fenced, it fails at
// once with ErrCacheUnavailable.
func (c *Cache) Get(ctx context.Context, kind store.Kind, ids []int64) ([]Entry, error) {
	if c.fenced.Load() {
		return nil, ErrCacheUnavailable
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.key(kind, id)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	var vals []any
	err := c.guard(func() (err error) {
		if c.cluster {
			vals, err = getEach(ctx, c.rdb, keys)
		} else {
			vals, err = c.rdb.MGet(ctx, keys...).Result()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: cache get %s: %w", kind, err)
	}
	entries := make([]Entry, len(ids))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			b := []byte(s)
			entries[i] = decodeEntry(b)
			entries[i].Raw = b
		}
	}
	return entries, nil
}

func decodeEntry(b []byte) Entry {
	state := Hit
	switch {
	case bytes.Equal(b, []byte(absentTag)):
		return Entry{State: Absent}
	case bytes.HasPrefix(b, []byte(docTag)):
	case bytes.HasPrefix(b, []byte(markerTag)):
		state = Invalidated
	default:
		return Entry{State: Corrupt}
	}
	rest := b[len(docTag):]
	i := bytes.IndexByte(rest, ':')
	if i <= 0 {
		return Entry{State: Corrupt}
	}
	v, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil || v < 0 {
		return Entry{State: Corrupt}
	}
	return Entry{State: state, Version: v, Data: rest[i+1:]}
}

// encodeEntry encodes a tagged, versioned entry: a document, or a marker
// when data is nil.
func encodeEntry(tag string, version int64, data []byte) []byte {
	b := make([]byte, 0, len(tag)+20+1+len(data))
	b = append(b, tag...)
	b = strconv.AppendInt(b, version, 10)
	b = append(b, ':')
	return append(b, data...)
}

// LoadScripts loads the cache's Lua scripts into Redis (on a cluster, into
// every node), so that the first write-back is one EVALSHA rather than a
// NOSCRIPT miss and an EVAL. Failing is harmless: a script is sent in full
// where it is missing.
func (c *Cache) LoadScripts(ctx context.Context) error {
	// Not on the request path: a slow Redis gets a second, not REDIS_TIMEOUT.
	ctx, cancel := context.WithTimeout(ctx, max(c.opt.Timeout, time.Second))
	defer cancel()
	return loadScripts(ctx, c.rdb, setNewerScript, readLeaseScript)
}

// ttl returns a document's TTL, with jitter.
func (c *Cache) ttl() time.Duration {
	j := (rand.Float64()*2 - 1) * c.opt.Jitter
	return time.Duration(float64(c.opt.TTL) * (1 + j))
}

// Purge deletes every entry under the cache's prefix, for example after the
// catalogue was replaced wholesale; on a cluster, on every master. It
// scans, so it is meant for tools, not for the request path. It returns how
// many keys it deleted.
func (c *Cache) Purge(ctx context.Context) (int, error) {
	n, err := DeleteKeys(ctx, c.rdb, c.opt.Prefix+"*")
	if err != nil {
		return n, fmt.Errorf("store: cache purge: %w", err)
	}
	return n, nil
}
