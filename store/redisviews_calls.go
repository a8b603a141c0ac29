package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The request path's calls of RedisViews, Record and Read, which concurrent
// callers share (see Coalescer).

// recordScript counts views, one per id, in order: KEYS pending, queued,
// then the display count of each id; ARGV the ids. For each view it
// returns its display count after the view, or -1 when the product has no
// display count yet, and the views queued after it, as one flat list.
var recordScript = redis.NewScript(`
local out = {}
for i = 1, #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
  local q = redis.call('INCR', KEYS[2])
  local n = -1
  if redis.call('EXISTS', KEYS[2+i]) == 1 then n = redis.call('INCR', KEYS[2+i]) end
  out[2*i-1], out[2*i] = n, q
end
return out`)

// Record counts one view of a product, in pending and, when the product has
// one, in its display count. It returns the display count after the view,
// or -1 when the product has none yet (Init makes it), and the views queued
// for the next flush. The views of concurrent callers are counted in one
// round trip, each exactly once; on an error, each of them may or may not
// have been counted.
func (v *RedisViews) Record(ctx context.Context, id int64) (display, queued int64, err error) {
	var res [2]int64
	if v.opt.NoCoalesce {
		var rs [][2]int64
		if rs, err = v.recordMany(ctx, []int64{id}); err == nil {
			res = rs[0]
		}
	} else {
		res, err = v.records.Do(ctx, id)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: views record: %w", err)
	}
	return res[0], res[1], nil
}

// recordMany counts one view of each of ids, in one script call.
func (v *RedisViews) recordMany(ctx context.Context, ids []int64) ([][2]int64, error) {
	keys := make([]string, 0, 2+len(ids))
	keys = append(keys, v.key("pending"), v.key("queued"))
	args := make([]any, len(ids))
	for i, id := range ids {
		keys, args[i] = append(keys, v.display(id)), id
	}
	res, err := recordScript.Run(ctx, v.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != 2*len(ids) {
		return nil, errOrShape(err)
	}
	out := make([][2]int64, len(ids))
	for i := range out {
		out[i] = [2]int64{res[2*i], res[2*i+1]}
	}
	return out, nil
}

// ViewRead is what Read found. Display holds, in the order of the ids
// asked for, each display count, or -1 for a product that has none. Gen and
// Claimed are set only when some count was missing: the generation and the
// claimed batches at the moment of the read, which Init needs.
type ViewRead struct {
	Display []int64
	Gen     string
	Claimed []string
}

// readScript: KEYS gen, claimed, display…; returns {counts, gen, claimed}.
var readScript = redis.NewScript(`
local out, miss = {}, false
for i = 3, #KEYS do
  local n = redis.call('GET', KEYS[i])
  if n then out[i-2] = tonumber(n) else out[i-2] = -1; miss = true end
end
if not miss then return {out} end
return {out, redis.call('GET', KEYS[1]) or '0', redis.call('ZRANGE', KEYS[2], 0, -1)}`)

// Read returns the display counts of ids in one round trip, with what Init
// needs when some are missing. The reads of concurrent callers are one
// round trip for the union of their ids; a caller may then get Gen and
// Claimed although all of its own counts were found.
func (v *RedisViews) Read(ctx context.Context, ids []int64) (ViewRead, error) {
	var r ViewRead
	var err error
	if v.opt.NoCoalesce {
		var rs []ViewRead
		if rs, err = v.readMany(ctx, [][]int64{ids}); err == nil {
			r = rs[0]
		}
	} else {
		r, err = v.reads.Do(ctx, ids)
	}
	if err != nil {
		return ViewRead{}, fmt.Errorf("store: views read: %w", err)
	}
	return r, nil
}

// readMany reads the display counts of the union of reqs in one script
// call, and splits them back per request.
func (v *RedisViews) readMany(ctx context.Context, reqs [][]int64) ([]ViewRead, error) {
	keys := []string{v.key("gen"), v.key("claimed")}
	at := map[int64]int{} // id → its index among the script's counts
	for _, ids := range reqs {
		for _, id := range ids {
			if _, ok := at[id]; !ok {
				at[id] = len(keys) - 2
				keys = append(keys, v.display(id))
			}
		}
	}
	res, err := readScript.Run(ctx, v.rdb, keys).Slice()
	if err != nil || len(res) == 0 {
		return nil, errOrShape(err)
	}
	display := int64s(res[0])
	if len(display) != len(at) {
		return nil, errOrShape(nil)
	}
	var shared ViewRead
	if len(res) == 3 {
		shared.Gen, _ = res[1].(string)
		shared.Claimed = strs(res[2])
	}
	out := make([]ViewRead, len(reqs))
	for i, ids := range reqs {
		out[i] = ViewRead{Display: make([]int64, len(ids)), Gen: shared.Gen, Claimed: shared.Claimed}
		for j, id := range ids {
			out[i].Display[j] = display[at[id]]
		}
	}
	return out, nil
}
