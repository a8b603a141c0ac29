package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisViews is the Redis side of the write-behind view counter
// (docs/VIEWS.md). Every key lives under prefix + "{views}:", so that all
// of them hash to one Redis Cluster slot and the scripts below, which touch
// several of them, stay valid on a cluster. The prefix must not contain '{'.
//
//	n:<id>      a product's display count: the absolute hits clients see.
//	            Set once from SQL (Init), then only incremented by Record;
//	            a flush never touches it. Expires DisplayTTL (±10 %) after
//	            Init, views or not, so that a count that drifted from SQL
//	            (see views.Counter) heals within that time.
//	pending     hash id → views recorded and not yet claimed by a flush
//	queued      the total of pending, which tells when to flush early
//	batch:<b>   hash id → views of batch b, claimed by a flush (pending
//	            renamed), deleted by Ack once b is committed in SQL
//	claimed     sorted set of the batches claimed and not acknowledged,
//	            scored by claim time in Unix milliseconds
//	gen         incremented by every claim, ack and invalidation, so that
//	            Init can tell that no batch changed hands while it read SQL
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
type RedisViews struct {
	rdb     redis.UniversalClient
	opt     RedisViewsOptions
	reads   *Coalescer[[]int64, ViewRead]
	records *Coalescer[int64, [2]int64]
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
	return loadScripts(ctx, v.rdb, recordScript, readScript, initScript, claimScript, ackScript, invalidateScript)
}

func (v *RedisViews) key(name string) string { return v.opt.Prefix + "{views}:" + name }

func (v *RedisViews) display(id int64) string { return v.key("n:" + strconv.FormatInt(id, 10)) }

func (v *RedisViews) batch(id string) string { return v.key("batch:" + id) }

// ttl returns the display TTL in seconds with ±10 % jitter, so that counts
// set together do not expire together.
func (v *RedisViews) ttl() int64 {
	j := 1 + (rand.Float64()*2-1)*0.1
	return max(1, int64(v.opt.DisplayTTL.Seconds()*j))
}

// initScript: KEYS gen, pending, display×n, batch…; ARGV gen, ttl, n,
// then id and base for each product. It returns {} when gen moved, else
// each product's display count.
var initScript = redis.NewScript(`
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return {} end
local n = tonumber(ARGV[3])
local out = {}
for i = 1, n do
  local id, key = ARGV[2+2*i], KEYS[2+i]
  local c = redis.call('GET', key)
  if c then
    out[i] = tonumber(c)
  else
    c = tonumber(ARGV[3+2*i]) + tonumber(redis.call('HGET', KEYS[2], id) or '0')
    for j = 3+n, #KEYS do c = c + tonumber(redis.call('HGET', KEYS[j], id) or '0') end
    redis.call('SET', key, c, 'EX', ARGV[2])
    out[i] = c
  end
end
return out`)

// ErrViewsMoved is returned by Init when a batch was claimed or acknowledged,
// or a count invalidated, since the Read whose generation it was given: the
// SQL read may not match Redis any more, so read again.
var ErrViewsMoved = errors.New("store: views moved while initializing; read again")

// Init sets the display count of each product in ids that has none to
// bases[i] (its hits in an SQL snapshot) plus its pending views plus its
// views in each batch of unapplied (the batches claimed at the Read of gen
// that the snapshot did not include). A product that has a count keeps it.
// It returns each product's count, or ErrViewsMoved when gen is no longer
// current. ids and bases are parallel.
func (v *RedisViews) Init(ctx context.Context, gen string, ids, bases []int64, unapplied []string) ([]int64, error) {
	keys := make([]string, 0, 2+len(ids)+len(unapplied))
	keys = append(keys, v.key("gen"), v.key("pending"))
	args := make([]any, 0, 3+2*len(ids))
	args = append(args, gen, v.ttl(), len(ids))
	for i, id := range ids {
		keys = append(keys, v.display(id))
		args = append(args, id, bases[i])
	}
	for _, b := range unapplied {
		keys = append(keys, v.batch(b))
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

// claimScript: KEYS pending, queued, claimed, batch, gen; ARGV batch id,
// now in ms. It returns {claimed batch ids, the new batch's id → views as a
// flat list (empty when nothing was pending)}.
var claimScript = redis.NewScript(`
local views = {}
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[4])
  redis.call('DEL', KEYS[2])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  redis.call('INCR', KEYS[5])
  views = redis.call('HGETALL', KEYS[4])
end
return {redis.call('ZRANGE', KEYS[3], 0, -1), views}`)

// ViewClaim is what Claim took: the views of the new batch (empty when
// nothing was pending, and then no batch was made) and every batch claimed
// and not yet acknowledged, the new one included.
type ViewClaim struct {
	Views   map[int64]int64
	Claimed []string
}

// Claim atomically moves every pending view into a new batch named
// batchID, which it adds to the claimed set, and resets the queue. The
// batch stays in Redis until Ack. Claimed lists the batches claimed so far,
// also by other processes or before a crash, so that they can be applied
// again.
func (v *RedisViews) Claim(ctx context.Context, batchID string) (ViewClaim, error) {
	keys := []string{v.key("pending"), v.key("queued"), v.key("claimed"), v.batch(batchID), v.key("gen")}
	res, err := claimScript.Run(ctx, v.rdb, keys, batchID, time.Now().UnixMilli()).Slice()
	if err != nil || len(res) != 2 {
		return ViewClaim{}, fmt.Errorf("store: views claim: %w", errOrShape(err))
	}
	views, err := viewMap(strs(res[1]))
	if err != nil {
		return ViewClaim{}, fmt.Errorf("store: views claim: %w", err)
	}
	return ViewClaim{Views: views, Claimed: strs(res[0])}, nil
}

// Batch returns the views of a claimed batch, empty when it was
// acknowledged meanwhile.
func (v *RedisViews) Batch(ctx context.Context, batchID string) (map[int64]int64, error) {
	m, err := v.rdb.HGetAll(ctx, v.batch(batchID)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: views batch %s: %w", batchID, err)
	}
	flat := make([]string, 0, 2*len(m))
	for k, n := range m {
		flat = append(flat, k, n)
	}
	views, err := viewMap(flat)
	if err != nil {
		return nil, fmt.Errorf("store: views batch %s: %w", batchID, err)
	}
	return views, nil
}

// ackScript: KEYS claimed, batch, gen; ARGV batch id.
var ackScript = redis.NewScript(`
redis.call('DEL', KEYS[2])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then redis.call('INCR', KEYS[3]) end
return 1`)

// Ack drops a batch that is committed in SQL. Acknowledging a batch twice
// is harmless.
func (v *RedisViews) Ack(ctx context.Context, batchID string) error {
	keys := []string{v.key("claimed"), v.batch(batchID), v.key("gen")}
	if err := ackScript.Run(ctx, v.rdb, keys, batchID).Err(); err != nil {
		return fmt.Errorf("store: views ack %s: %w", batchID, err)
	}
	return nil
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

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i], _ = x.(string)
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
