package redisstore

import (
	"context"
	"fmt"
	"time"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
)

// Fill leases keep a cold hot key from sending every instance to SQL at
// once. A reader that misses holds the lease of each missed key it got:
// one reader gets it and fills the key from SQL; the others wait briefly
// for the fill and read the cache again. A lease lasts at most its TTL, so
// a reader never waits on a lease holder that died. Read takes the leases
// in the round trip that finds the misses, so a cold document costs two
// round trips, the read and the write-back, not three.

// leaseSuffix names a document's fill lease: "<entry key>:lease", in the
// entry's slot thanks to the entry key's hash tag.
const leaseSuffix = ":lease"

// LeaseState says what Read found, or took, for one key.
type LeaseState uint8

// The states of a key that Read returns.
const (
	// Answered: the entry is a document or a negative entry; no lease is
	// needed.
	Answered LeaseState = iota
	// Granted: the entry does not answer and the caller holds its lease:
	// it fills the key. Also returned when Redis refused to store the lease
	// (out of memory): the caller reads SQL as if it held it.
	Granted
	// Busy: the entry does not answer and another reader holds its lease:
	// wait for its fill, then read again.
	Busy
)

// Read is Get that also takes, in the same round trip, the fill lease of
// every key whose entry does not answer (no entry, a marker, or one that
// does not decode), lasting ttl unless a Put of its key ends it sooner.
// It returns the entries and, for each, its LeaseState. Like Get, it fails
// at once with ErrCacheUnavailable while the breaker is open or reads are
// fenced. With ttl ≤ 0 it is Get: one MGET, and every miss Granted.
func (c *Cache) Read(ctx context.Context, kind store.Kind, ids []int64, ttl time.Duration) ([]Entry, []LeaseState, error) {
	if ttl <= 0 {
		entries, err := c.Get(ctx, kind, ids)
		if err != nil {
			return nil, nil, err
		}
		states := make([]LeaseState, len(entries))
		for i, e := range entries {
			if e.State != Hit && e.State != Absent {
				states[i] = Granted
			}
		}
		return entries, states, nil
	}
	if c.fenced.Load() {
		return nil, nil, ErrCacheUnavailable
	}
	keys := make([]string, 2*len(ids))
	for i, id := range ids {
		keys[i] = c.key(kind, id)
		keys[len(ids)+i] = keys[i] + leaseSuffix
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	var vals []any
	err := c.guard(func() (err error) {
		vals, err = c.readLease(ctx, keys, ttl)
		return err
	})
	if err == nil && len(vals) != 2*len(ids) {
		err = errOrShape(nil)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: cache read %s: %w", kind, err)
	}
	entries := make([]Entry, len(ids))
	states := make([]LeaseState, len(ids))
	for i := range ids {
		if s, ok := vals[2*i].(string); ok {
			b := []byte(s)
			entries[i] = decodeEntry(b)
			entries[i].Raw = b
		}
		switch n, _ := vals[2*i+1].(int64); n {
		case 0:
			states[i] = Busy
		case 1:
			states[i] = Granted
		}
	}
	return entries, states, nil
}

// readLease runs readLeaseScript over keys (entries, then leases) and
// returns its answer: a value and a state for each entry.
func (c *Cache) readLease(ctx context.Context, keys []string, ttl time.Duration) ([]any, error) {
	if !c.cluster {
		return readLeaseScript.Run(ctx, c.rdb, keys, ttl.Milliseconds()).Slice()
	}
	n := len(keys) / 2
	calls := make([]scriptCall, n)
	for i := range calls {
		calls[i] = scriptCall{keys: []string{keys[i], keys[n+i]}, args: []any{ttl.Milliseconds()}}
	}
	cmds, err := evalEach(ctx, c.rdb, readLeaseScript, calls)
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, 2*n)
	for _, cmd := range cmds {
		v, err := cmd.Slice()
		if err != nil || len(v) != 2 {
			return nil, errOrShape(err)
		}
		vals = append(vals, v...)
	}
	return vals, nil
}

// readLeaseScript: KEYS are the entries' keys, then their leases' keys;
// ARGV[1] is the lease TTL in milliseconds. For each key it returns two
// values: the entry as stored (nil for none, or for a key of another
// type), and 2 when the entry answers (a document or a negative entry), 1
// when it set the lease, 0 when another reader holds it. A lease that
// Redis refuses to store (out of memory under noeviction) counts as set:
// the reads keep working while Redis is full, as an MGET's would.
var readLeaseScript = redis.NewScript(`
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local cur = redis.pcall('GET', KEYS[i])
  if type(cur) ~= 'string' then cur = false end
  out[2*i-1] = cur
  if cur and (string.sub(cur, 1, 2) == 'd:' or cur == 'n:') then
    out[2*i] = 2
  else
    -- false when another reader holds the lease; OK, or an error, else
    if redis.pcall('SET', KEYS[n+i], '1', 'NX', 'PX', ARGV[1]) then
      out[2*i] = 1
    else
      out[2*i] = 0
    end
  end
end
return out
`)
