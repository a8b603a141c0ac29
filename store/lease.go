package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fill leases keep a cold hot key from sending every instance to SQL at
// once. A reader that misses asks for the lease of each missed key: one
// gets it and fills the key from SQL; the others wait briefly for the fill
// and read the cache again. A lease lasts at most its TTL, so a reader never
// waits on a lease holder that died.

// leaseSuffix names a document's fill lease: "<entry key>:lease", in the
// entry's slot thanks to the entry key's hash tag.
const leaseSuffix = ":lease"

// LeaseState says what Lease found for one key.
type LeaseState uint8

// The states of a LeaseResult.
const (
	Granted LeaseState = iota // the caller holds the lease: it fills the key
	Busy                      // another reader holds it: wait, then read again
	Filled                    // the key was filled meanwhile: the entry is in Entry
)

// LeaseResult is Lease's answer for one key.
type LeaseResult struct {
	State LeaseState
	Entry Entry // for Filled
}

// Lease asks for the fill leases of ids in one round trip (on a cluster,
// one script call per document in one pipeline), and returns, in
// order, whether each was granted, is held by another reader, or is not
// needed because the key now holds a document or a negative entry. A lease
// lasts ttl unless a Put of its key ends it sooner.
func (c *Cache) Lease(ctx context.Context, kind string, ids []int64, ttl time.Duration) ([]LeaseResult, error) {
	keys := make([]string, 2*len(ids))
	for i, id := range ids {
		keys[i] = c.key(kind, id)
		keys[len(ids)+i] = keys[i] + leaseSuffix
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	var vals []any
	err := c.guard(func() (err error) {
		vals, err = c.lease(ctx, keys, ttl)
		return err
	})
	if err == nil && len(vals) != len(ids) {
		err = errOrShape(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("store: cache lease %s: %w", kind, err)
	}
	out := make([]LeaseResult, len(ids))
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			b := []byte(v)
			out[i] = LeaseResult{State: Filled, Entry: decodeEntry(b)}
			out[i].Entry.Raw = b
		case int64:
			if v == 1 {
				out[i] = LeaseResult{State: Granted}
			} else {
				out[i] = LeaseResult{State: Busy}
			}
		}
	}
	return out, nil
}

// lease runs leaseScript over keys (entries, then leases) and returns its
// answer for each entry.
func (c *Cache) lease(ctx context.Context, keys []string, ttl time.Duration) ([]any, error) {
	if !c.cluster {
		return leaseScript.Run(ctx, c.rdb, keys, ttl.Milliseconds()).Slice()
	}
	n := len(keys) / 2
	calls := make([]scriptCall, n)
	for i := range calls {
		calls[i] = scriptCall{keys: []string{keys[i], keys[n+i]}, args: []any{ttl.Milliseconds()}}
	}
	cmds, err := evalEach(ctx, c.rdb, leaseScript, calls)
	if err != nil {
		return nil, err
	}
	vals := make([]any, n)
	for i, cmd := range cmds {
		v, err := cmd.Slice()
		if err != nil || len(v) != 1 {
			return nil, errOrShape(err)
		}
		vals[i] = v[0]
	}
	return vals, nil
}

// leaseScript: KEYS are the entries' keys, then their leases' keys; ARGV[1]
// is the lease TTL in milliseconds. For each key it returns the entry when
// it holds a document or a negative entry, else 1 when it set the lease and
// 0 when another reader holds it.
var leaseScript = redis.NewScript(`
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local cur = redis.pcall('GET', KEYS[i])
  if type(cur) == 'string' and (string.sub(cur, 1, 2) == 'd:' or cur == 'n:') then
    out[i] = cur
  elseif redis.call('SET', KEYS[n+i], '1', 'NX', 'PX', ARGV[1]) then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`)
