package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
)

// RedisViews is the Redis side of the write-behind view counter
// (docs/VIEWS.md). Every key lives under prefix + "{views}:", so that all
// of them hash to one Redis Cluster slot and the scripts below, which touch
// several of them, stay valid on a cluster. The prefix must not contain '{'.
//
//	n:<id>   a product's display count: the absolute hits clients see.
//	         Set once from SQL (Init), then only incremented by Record;
//	         a flush never touches it. Expires DisplayTTL (±10 %) after
//	         Init, views or not, so that a count that drifted from SQL
//	         (see views.Counter) heals within that time.
//	log      a stream: each Record call appends one entry, product id →
//	         views. Entry ids only rise; SQL keeps the last one applied
//	         (sqlstore.DB.ApplyViewLog), and a flush trims what SQL holds.
//	token    a copy of the token SQL wrote with the last applied entry: a
//	         Redis whose token is neither SQL's nor the one before went back
//	         in time or lost its data
//	applied  the position whose trim copied the token: a late trim of an
//	         earlier flush does not copy its older token
//	queued   views appended and not yet trimmed, which tells when to flush
//	         early
//	gen      incremented by every trim, repair and invalidation, so that
//	         Init can tell that nothing it summed moved while it read SQL
//
// Each method is one round trip (a script run by EVALSHA, which falls back to
// EVAL once when Redis lost the script). Methods set no deadline of their
// own: the caller's context bounds them as far as the client lets it. A
// client from NewRedis cuts a socket read at the context's deadline; one
// with go-redis's defaults (ContextTimeoutEnabled off) waits for a late
// reply up to its ReadTimeout, which is why views.Counter also bounds each
// call itself. Safe for concurrent use, also by several processes.
//
// Record and Read, the calls of the request path, are coalesced (see
// Coalescer and RedisViewsOptions.NoCoalesce): the reads of all concurrent
// callers are one script call for the union of their ids, and their views
// one script call that counts each view once, in order. Such a call runs
// under a deadline of its own: its callers' latest, capped by
// RedisViewsOptions.Timeout; a caller stops waiting at its own deadline,
// and a call still running at the call's deadline is abandoned (its late
// reply dropped), so that a stuck call holds no caller past it.
//
// RedisViews also remembers the log entries its own Record calls appended
// until a flush finds them applied (Unconfirmed): the only way to count the
// acknowledged views that a Redis restored from an older snapshot, or a
// replica promoted while it lagged, no longer holds.
type RedisViews struct {
	rdb     redis.UniversalClient
	opt     RedisViewsOptions
	reads   *Coalescer[[]int64, ViewRead]
	records *Coalescer[int64, [2]int64]
	ledger  ledger
}

// RedisViewsOptions configures a RedisViews. Zero fields take the defaults.
type RedisViewsOptions struct {
	Prefix     string        // default "catalog:"
	DisplayTTL time.Duration // default 1h
	// Timeout bounds each coalesced call, whatever its callers' deadlines
	// (CoalesceOptions.Timeout): REDIS_TIMEOUT. Zero: the callers'
	// deadlines and the client's own timeouts bound it.
	Timeout time.Duration
	// NoCoalesce makes each Record and Read a call of its own.
	NoCoalesce bool
}

// NewRedisViews returns the view counter's keys and scripts over rdb.
func NewRedisViews(rdb redis.UniversalClient, opt RedisViewsOptions) *RedisViews {
	if opt.Prefix == "" {
		opt.Prefix = "catalog:"
	}
	if opt.DisplayTTL <= 0 {
		opt.DisplayTTL = time.Hour
	}
	v := &RedisViews{rdb: rdb, opt: opt}
	co := CoalesceOptions{Timeout: opt.Timeout}
	v.reads = NewCoalescer(co, v.readMany)
	v.records = NewCoalescer(co, v.recordMany)
	return v
}

// ViewCoalesceStats returns what the coalescers of Read and Record did.
func (v *RedisViews) ViewCoalesceStats() (reads, records CoalesceStats) {
	return v.reads.Stats(), v.records.Stats()
}

// LoadScripts loads the counter's Lua scripts into Redis (on a cluster,
// into every node), so that each method's first call is one EVALSHA rather
// than a NOSCRIPT miss and an EVAL. Failing is harmless: a script is sent
// in full where it is missing.
func (v *RedisViews) LoadScripts(ctx context.Context) error {
	return loadScripts(ctx, v.rdb, recordScript, readScript, initScript, readLogScript, trimLogScript, repairLogScript, invalidateScript)
}

func (v *RedisViews) key(name string) string { return v.opt.Prefix + "{views}:" + name }

func (v *RedisViews) display(id int64) string { return v.key("n:" + strconv.FormatInt(id, 10)) }

// ttl returns the display TTL in seconds with ±10 % jitter, so that counts
// set together do not expire together.
func (v *RedisViews) ttl() int64 {
	j := 1 + (rand.Float64()*2-1)*0.1
	return max(1, int64(v.opt.DisplayTTL.Seconds()*j))
}

// initScript: KEYS gen, log, display×n; ARGV gen, ttl, the exclusive
// start of the unapplied entries ("(ms-seq"), n, then id and base for each
// product. It returns {} when gen moved, else each product's display count.
var initScript = redis.NewScript(`
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return {} end
local n = tonumber(ARGV[4])
local out, want, miss = {}, {}, false
for i = 1, n do
  local c = redis.call('GET', KEYS[2+i])
  if c then out[i] = tonumber(c) else out[i] = false; want[ARGV[3+2*i]] = 0; miss = true end
end
if miss then
  for _, e in ipairs(redis.call('XRANGE', KEYS[2], ARGV[3], '+')) do
    local f = e[2]
    for j = 1, #f, 2 do
      if want[f[j]] then want[f[j]] = want[f[j]] + tonumber(f[j+1]) end
    end
  end
  for i = 1, n do
    if not out[i] then
      local c = tonumber(ARGV[4+2*i]) + want[ARGV[3+2*i]]
      redis.call('SET', KEYS[2+i], c, 'EX', ARGV[2])
      out[i] = c
    end
  end
end
return out`)

// ErrViewsMoved is returned by Init when the log was trimmed or repaired, or
// a count invalidated, since the Read whose generation it was given: the SQL
// read may not match Redis any more, so read again.
var ErrViewsMoved = errors.New("store: views moved while initializing; read again")

// Init sets the display count of each product in ids that has none to
// bases[i] (its hits in an SQL snapshot) plus its views in the log entries
// after applied (the snapshot's applied position, sqlstore.DB.ViewLogBase). A
// product that has a count keeps it. It returns each product's count, or
// ErrViewsMoved when gen is no longer current. ids and bases are parallel.
// It reads the unapplied part of the log, which a working flusher keeps to
// about one flush of views.
func (v *RedisViews) Init(ctx context.Context, gen string, ids, bases []int64, applied store.LogPos) ([]int64, error) {
	keys := make([]string, 0, 2+len(ids))
	keys = append(keys, v.key("gen"), v.key("log"))
	args := make([]any, 0, 4+2*len(ids))
	args = append(args, gen, v.ttl(), "("+applied.String(), len(ids))
	for i, id := range ids {
		keys = append(keys, v.display(id))
		args = append(args, id, bases[i])
	}
	res, err := initScript.Run(ctx, v.rdb, keys, args...).Int64Slice()
	switch {
	case err != nil:
		return nil, fmt.Errorf("store: views init: %w", err)
	case len(res) == 0 && len(ids) > 0:
		return nil, ErrViewsMoved
	case len(res) != len(ids):
		return nil, fmt.Errorf("store: views init: %w", errOrShape(nil))
	}
	return res, nil
}

// invalidateScript: KEYS gen, display….
var invalidateScript = redis.NewScript(`
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('INCR', KEYS[1])
return 1`)

// Invalidate drops the display counts of ids, whose views reached SQL
// without passing through Redis, so that the next read sets them again from
// SQL. It moves the generation, so that an Init that read SQL before those
// views were committed cannot set a count without them.
func (v *RedisViews) Invalidate(ctx context.Context, ids []int64) error {
	keys := make([]string, 0, 1+len(ids))
	keys = append(keys, v.key("gen"))
	for _, id := range ids {
		keys = append(keys, v.display(id))
	}
	if err := invalidateScript.Run(ctx, v.rdb, keys).Err(); err != nil {
		return fmt.Errorf("store: views invalidate: %w", err)
	}
	return nil
}

// Reset deletes every key of the view counter, pending views included, for
// example after the catalogue was replaced wholesale. It scans, so it is
// meant for tools. It returns how many keys it deleted.
func (v *RedisViews) Reset(ctx context.Context) (int, error) {
	n, err := DeleteKeys(ctx, v.rdb, v.key("*"))
	if err != nil {
		return n, fmt.Errorf("store: views reset: %w", err)
	}
	return n, nil
}

// viewMap decodes a flat id, views, id, views… list.
func viewMap(flat []string) (map[int64]int64, error) {
	m := make(map[int64]int64, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		id, err1 := strconv.ParseInt(flat[i], 10, 64)
		n, err2 := strconv.ParseInt(flat[i+1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad view entry %q=%q", flat[i], flat[i+1])
		}
		m[id] += n
	}
	return m, nil
}

func int64s(v any) []int64 {
	list, _ := v.([]any)
	out := make([]int64, len(list))
	for i, x := range list {
		out[i], _ = x.(int64)
	}
	return out
}

// strs returns a reply's list as strings; integers are formatted.
func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		switch x := x.(type) {
		case string:
			out[i] = x
		case int64:
			out[i] = strconv.FormatInt(x, 10)
		}
	}
	return out
}

// errOrShape returns err, or when it is nil, an error about a reply of an
// unexpected shape.
func errOrShape(err error) error {
	if err != nil {
		return err
	}
	return errors.New("unexpected reply shape")
}
