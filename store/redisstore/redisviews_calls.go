package redisstore

import (
	"context"
	"fmt"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
)

// The request path's calls of RedisViews, Record and Read, which concurrent
// callers share (see Coalescer).

// recordScript counts views, one per id, in order: KEYS log, queued, then
// the display count of each id; ARGV the ids. It appends one log entry
// holding every view of the call, summed by product (one per 1,000
// products: Lua's unpack has a stack limit). For each view it returns its
// display count after the view, or -1 when the product has no display count
// yet, and the views queued after it, as one flat list; then the entries'
// ids and their views.
var recordScript = redis.NewScript(`
local out, sums, order = {}, {}, {}
for i = 1, #ARGV do
  local id = ARGV[i]
  if not sums[id] then sums[id] = 0; order[#order+1] = id end
  sums[id] = sums[id] + 1
  local q = redis.call('INCR', KEYS[2])
  local n = -1
  if redis.call('EXISTS', KEYS[2+i]) == 1 then n = redis.call('INCR', KEYS[2+i]) end
  out[2*i-1], out[2*i] = n, q
end
local entries = {}
for from = 1, #order, 1000 do
  local fields, views = {}, 0
  for k = from, math.min(from + 999, #order) do
    local id = order[k]
    fields[#fields+1] = id; fields[#fields+1] = sums[id]; views = views + sums[id]
  end
  entries[#entries+1] = redis.call('XADD', KEYS[1], '*', unpack(fields))
  entries[#entries+1] = views
end
out[#out+1] = entries
return out`)

// Record counts one view of a product, in the log and, when the product has
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

// recordMany counts one view of each of ids, in one script call, and
// remembers the log entry it appended until a flush finds it applied.
func (v *RedisViews) recordMany(ctx context.Context, ids []int64) ([][2]int64, error) {
	keys := make([]string, 0, 2+len(ids))
	keys = append(keys, v.key("log"), v.key("queued"))
	args := make([]any, len(ids))
	for i, id := range ids {
		keys, args[i] = append(keys, v.display(id)), id
	}
	res, err := recordScript.Run(ctx, v.rdb, keys, args...).Slice()
	if err != nil || len(res) != 2*len(ids)+1 {
		return nil, errOrShape(err)
	}
	if err := v.remember(ids, res[len(res)-1]); err != nil {
		return nil, err
	}
	out := make([][2]int64, len(ids))
	for i := range out {
		out[i][0], _ = res[2*i].(int64)
		out[i][1], _ = res[2*i+1].(int64)
	}
	return out, nil
}

// remember adds the entries a record call appended to the ledger, each
// with its views: the script puts the first 1,000 distinct products of the
// call (in the order of their first view) in its first entry, and so on.
func (v *RedisViews) remember(ids []int64, reply any) error {
	entries, _ := reply.([]any)
	chunk := make(map[int64]int, len(ids)) // product → its entry
	byEntry := make([][]int64, (len(entries)+1)/2)
	for _, id := range ids {
		k, ok := chunk[id]
		if !ok {
			k = len(chunk) / 1000
			chunk[id] = k
		}
		if k >= len(byEntry) {
			return fmt.Errorf("store: views record: %d entries for %d products", len(byEntry), len(chunk))
		}
		byEntry[k] = append(byEntry[k], id)
	}
	for i := range byEntry {
		s, _ := entries[2*i].(string)
		pos, err := store.ParseLogPos(s)
		if err != nil {
			return err
		}
		v.ledger.add(LedgerEntry{Pos: pos, IDs: byEntry[i]})
	}
	return nil
}

// ViewRead is what Read found. Display holds, in the order of the ids
// asked for, each display count, or -1 for a product that has none. Gen is
// set only when some count was missing: the generation at the moment of the
// read, which Init needs.
type ViewRead struct {
	Display []int64
	Gen     string
}

// readScript: KEYS gen, display…; returns {counts} or {counts, gen}.
var readScript = redis.NewScript(`
local out, miss = {}, false
for i = 2, #KEYS do
  local n = redis.call('GET', KEYS[i])
  if n then out[i-1] = tonumber(n) else out[i-1] = -1; miss = true end
end
if not miss then return {out} end
return {out, redis.call('GET', KEYS[1]) or '0'}`)

// Read returns the display counts of ids in one round trip, with what Init
// needs when some are missing. The reads of concurrent callers are one
// round trip for the union of their ids; a caller may then get Gen
// although all of its own counts were found.
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
	keys := []string{v.key("gen")}
	at := map[int64]int{} // id → its index among the script's counts
	for _, ids := range reqs {
		for _, id := range ids {
			if _, ok := at[id]; !ok {
				at[id] = len(keys) - 1
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
	if len(res) == 2 {
		shared.Gen, _ = res[1].(string)
	}
	out := make([]ViewRead, len(reqs))
	for i, ids := range reqs {
		out[i] = ViewRead{Display: make([]int64, len(ids)), Gen: shared.Gen}
		for j, id := range ids {
			out[i].Display[j] = display[at[id]]
		}
	}
	return out, nil
}
