package redisstore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
)

// The flusher's calls of RedisViews: read the log after SQL's applied
// position, trim what SQL took, and repair a log that went back in time.

// ViewLogRead is what ReadLog found.
type ViewLogRead struct {
	// Exists is false when Redis has no log at all (never written, or lost).
	Exists bool
	// Last is the id of the last entry ever appended to the log, as Redis
	// remembers it (its last-generated-id): it went back when Redis did.
	Last store.LogPos
	// Token is the token the last trim copied from SQL, empty when none.
	Token string
	// Entries are the ids of the entries read, in order; Through is the
	// last of them (the applied position after they are applied) and More
	// tells that the read stopped at its limit before the end of the log.
	Entries []store.LogPos
	Through store.LogPos
	More    bool
	// Views is the entries' views by product.
	Views map[int64]int64
}

// readLogScript: KEYS log, token; ARGV the exclusive start ("(ms-seq"),
// the most entries to read. It returns {exists, last-generated-id, token,
// entry ids, product id → views as a flat list}.
var readLogScript = redis.NewScript(`
local token = redis.call('GET', KEYS[2]) or ''
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '0-0', token, {}, {}} end
local info, last = redis.call('XINFO', 'STREAM', KEYS[1]), '0-0'
for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i+1] end end
local ids, sums, order = {}, {}, {}
if tonumber(ARGV[2]) > 0 then
  for _, e in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])) do
    ids[#ids+1] = e[1]
    local f = e[2]
    for j = 1, #f, 2 do
      local k = f[j]
      if not sums[k] then sums[k] = 0; order[#order+1] = k end
      sums[k] = sums[k] + tonumber(f[j+1])
    end
  end
end
local flat = {}
for _, k in ipairs(order) do flat[#flat+1] = k; flat[#flat+1] = sums[k] end
return {1, last, token, ids, flat}`)

// ReadLog reads, in one round trip, the state of the log and up to max of
// its entries after applied, summed by product. max 0 reads the state only.
func (v *RedisViews) ReadLog(ctx context.Context, applied store.LogPos, max int) (ViewLogRead, error) {
	res, err := readLogScript.Run(ctx, v.rdb, []string{v.key("log"), v.key("token")},
		"("+applied.String(), max).Slice()
	if err != nil || len(res) != 5 {
		return ViewLogRead{}, fmt.Errorf("store: views read log: %w", errOrShape(err))
	}
	exists, _ := res[0].(int64)
	last, _ := res[1].(string)
	r := ViewLogRead{Exists: exists == 1, Token: fmt.Sprint(res[2])}
	if r.Last, err = store.ParseLogPos(last); err != nil {
		return ViewLogRead{}, err
	}
	for _, s := range strs(res[3]) {
		p, err := store.ParseLogPos(s)
		if err != nil {
			return ViewLogRead{}, err
		}
		r.Entries = append(r.Entries, p)
	}
	if len(r.Entries) > 0 {
		r.Through = r.Entries[len(r.Entries)-1]
	}
	r.More = max > 0 && len(r.Entries) == max
	if r.Views, err = viewMap(strs(res[4])); err != nil {
		return ViewLogRead{}, fmt.Errorf("store: views read log: %w", err)
	}
	return r, nil
}

// logPosLua compares two entry ids in a script.
const logPosLua = `
local function before(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
`

// trimLogScript: KEYS log, token, applied, queued, gen; ARGV the applied
// position, the first id to keep, the token, the views trimmed. The token
// is copied only by the trim of the furthest position, so that a late
// trim of an earlier flush cannot put an older token back.
var trimLogScript = redis.NewScript(logPosLua + `
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])
if before(redis.call('GET', KEYS[3]) or '0-0', ARGV[1]) then
  redis.call('SET', KEYS[3], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[3])
end
if redis.call('DECRBY', KEYS[4], ARGV[4]) < 0 then redis.call('SET', KEYS[4], 0) end
redis.call('INCR', KEYS[5])
return 1`)

// TrimLog drops the entries up to through, which SQL holds, copies SQL's
// token and takes views off the queue, in one round trip. Trimming twice
// is harmless.
func (v *RedisViews) TrimLog(ctx context.Context, through store.LogPos, token string, views int64) error {
	keys := []string{v.key("log"), v.key("token"), v.key("applied"), v.key("queued"), v.key("gen")}
	next := store.LogPos{Ms: through.Ms, Seq: through.Seq + 1}
	if err := trimLogScript.Run(ctx, v.rdb, keys, through.String(), next.String(), token, views).Err(); err != nil {
		return fmt.Errorf("store: views trim log: %w", err)
	}
	return nil
}

// repairLogScript: KEYS log, token, applied, gen; ARGV SQL's applied
// position and token. It makes the log's last-generated-id at least the
// applied position (creating an empty log when there is none), so that an
// entry appended from now on cannot be taken for one SQL already holds,
// whatever the clock of the Redis that now serves.
var repairLogScript = redis.NewScript(logPosLua + `
if ARGV[1] ~= '0-0' then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('XADD', KEYS[1], ARGV[1], '_', '0')
    redis.call('XDEL', KEYS[1], ARGV[1])
  else
    local info, last = redis.call('XINFO', 'STREAM', KEYS[1]), '0-0'
    for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i+1] end end
    if before(last, ARGV[1]) then redis.call('XSETID', KEYS[1], ARGV[1]) end
  end
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[4])
return 1`)

// RepairLog realigns a log that went back in time with SQL's state, then
// drops every display count, in two steps: one script run, and a scan of
// the display counts (on a cluster, of the views slot's node). Counts
// read meanwhile are at worst what a client was shown before; the next
// read after the scan makes each count again from SQL and the log.
func (v *RedisViews) RepairLog(ctx context.Context, sql store.ViewLogState) error {
	keys := []string{v.key("log"), v.key("token"), v.key("applied"), v.key("gen")}
	if err := repairLogScript.Run(ctx, v.rdb, keys, sql.Applied.String(), sql.Token).Err(); err != nil {
		return fmt.Errorf("store: views repair log: %w", err)
	}
	if _, err := DeleteKeys(ctx, v.rdb, v.key("n:*")); err != nil {
		return fmt.Errorf("store: views repair log: drop display counts: %w", err)
	}
	return v.Invalidate(ctx, nil) // an Init that read before the scan ended sets nothing
}

// LedgerEntry is a log entry that this process's Record calls appended and
// no flush has yet found applied: its id and the product of each of its
// views.
type LedgerEntry struct {
	Pos store.LogPos
	IDs []int64
}

// maxLedger bounds the entries remembered: at one entry a coalesced Record
// call, far more than a flush interval holds. Past it the oldest half is
// forgotten (and counted as unverified).
const maxLedger = 1 << 20

type ledger struct {
	mu         sync.Mutex
	entries    []LedgerEntry
	unverified int64 // views forgotten unconfirmed because the ledger was full
}

func (l *ledger) add(e LedgerEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= maxLedger {
		for _, old := range l.entries[:maxLedger/2] {
			l.unverified += int64(len(old.IDs))
		}
		l.entries = slices.Delete(l.entries, 0, maxLedger/2)
	}
	l.entries = append(l.entries, e)
}

// Unconfirmed returns the entries this process appended that no Confirm
// has covered yet, in the order they were acknowledged.
func (v *RedisViews) Unconfirmed() []LedgerEntry {
	v.ledger.mu.Lock()
	defer v.ledger.mu.Unlock()
	return slices.Clone(v.ledger.entries)
}

// Confirm forgets the remembered entries up to through, which SQL holds,
// and those of gone, which the log no longer holds.
func (v *RedisViews) Confirm(through store.LogPos, gone []store.LogPos) {
	v.ledger.mu.Lock()
	defer v.ledger.mu.Unlock()
	lost := make(map[store.LogPos]bool, len(gone))
	for _, p := range gone {
		lost[p] = true
	}
	v.ledger.entries = slices.DeleteFunc(v.ledger.entries, func(e LedgerEntry) bool {
		return !through.Less(e.Pos) || lost[e.Pos]
	})
}
