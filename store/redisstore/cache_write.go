package redisstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
)

// The write side of Cache: write-backs (Put, PutKinds), invalidations, and
// the scripts that keep both from going backwards.

// Put writes fills back in one round trip (on a cluster, one script call
// per document in one pipeline), documents with the jittered TTL
// and negative entries with the negative TTL. Under Versioned, an entry
// whose version is not older than the fill's stays as it is (see Cache).
func (c *Cache) Put(ctx context.Context, kind store.Kind, fills []Fill) error {
	return c.PutKinds(ctx, KindFills{Kind: kind, Fills: fills})
}

// KindFills are fills of documents of one kind.
type KindFills struct {
	Kind  store.Kind
	Fills []Fill
}

// PutKinds is Put for documents of several kinds at once, still one round
// trip: a product page read cold writes back its product, seller and
// categories together. Each fill also ends its key's fill lease, whoever
// holds it: the key it guarded is filled.
func (c *Cache) PutKinds(ctx context.Context, groups ...KindFills) error {
	n := 0
	for _, g := range groups {
		n += len(g.Fills)
	}
	if n == 0 {
		return nil
	}
	keys := make([]string, 0, 2*n)
	args := make([]any, 0, 3*n)
	var kinds []string
	for _, g := range groups {
		if len(g.Fills) > 0 {
			kinds = append(kinds, string(g.Kind))
		}
		for _, f := range g.Fills {
			keys = append(keys, c.key(g.Kind, f.ID))
			if f.Absent {
				args = append(args, absentTag, c.opt.NegativeTTL.Milliseconds(), f.Replace)
			} else {
				args = append(args, encodeEntry(docTag, f.Version, f.Data), c.ttl().Milliseconds(), f.Replace)
			}
		}
	}
	for i := range n {
		keys = append(keys, keys[i]+leaseSuffix) // the fill is done: its lease goes
	}
	if err := c.setNewer(ctx, keys, args); err != nil {
		return fmt.Errorf("store: cache put %s: %w", strings.Join(kinds, ", "), err)
	}
	return nil
}

// Invalidate replaces the entries of older versions than invs' with markers
// and announces invs to every instance's Watch, in one round trip (on a
// cluster, one script call per document in one pipeline). The Listener is
// told first, so that this instance's own copies are gone before the write
// answers, whatever Redis does. Under PlainDelete it deletes the keys
// instead, then announces.
func (c *Cache) Invalidate(ctx context.Context, invs []store.Invalidation) error {
	if len(invs) == 0 {
		return nil
	}
	c.opt.Listener.Invalidated(invs)
	keys := make([]string, len(invs))
	args := make([]any, 0, 3*len(invs)+2)
	for i, inv := range invs {
		keys[i] = c.key(inv.Kind, inv.ID)
		args = append(args, encodeEntry(markerTag, inv.Version, nil), c.opt.MarkerTTL.Milliseconds(), "")
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	var err error
	switch {
	case c.opt.Strategy == PlainDelete:
		err = c.guard(func() error { return c.del(ctx, keys) })
		if err == nil {
			err = c.guard(func() error { return c.rdb.Publish(ctx, c.channel(), encodeInvalidations(invs)).Err() })
		}
	case c.cluster:
		err = c.guard(func() error {
			_, err := evalEach(ctx, c.rdb, setNewerScript, c.announcedPerDocument(keys, args, invs))
			return err
		})
	default:
		args = append(args, c.channel(), encodeInvalidations(invs))
		err = c.guard(func() error { return setNewerScript.Run(ctx, c.rdb, keys, args...).Err() })
	}
	if isOOM(err) {
		err = c.invalidateFull(ctx, keys, invs)
	}
	if err != nil {
		c.Fence() // an entry older than an acknowledged write may be in Redis
		return fmt.Errorf("store: cache invalidate: %w", err)
	}
	return nil
}

// invalidateFull invalidates in a Redis that is out of memory under
// noeviction, which refuses the markers' script: it deletes the entries
// and announces the invalidations, two commands Redis still accepts when
// full. Without a marker, a reader that read SQL before the write could put
// its old row back, but not while Redis is full: its write-back is refused
// as the markers were. So the write is delivered rather than left to fence
// every read until memory frees.
func (c *Cache) invalidateFull(ctx context.Context, keys []string, invs []store.Invalidation) error {
	c.stats.oomInvalidations.Add(1)
	return c.guard(func() error {
		if err := c.del(ctx, keys); err != nil {
			return err
		}
		return c.rdb.Publish(ctx, c.channel(), encodeInvalidations(invs)).Err()
	})
}

// isOOM reports Redis's refusal of a command that could grow memory past
// maxmemory under noeviction.
func isOOM(err error) bool { return err != nil && redis.HasErrorPrefix(err, "OOM") }

// OOMInvalidations counts the invalidations delivered by deletion because
// Redis was full (see invalidateFull).
func (c *Cache) OOMInvalidations() int64 { return c.stats.oomInvalidations.Load() }

// announcedPerDocument is perDocument for Invalidate: each document's call
// also announces that document's invalidation.
func (c *Cache) announcedPerDocument(keys []string, args []any, invs []store.Invalidation) []scriptCall {
	calls := make([]scriptCall, len(invs))
	for i, inv := range invs {
		a := append(args[3*i:3*i+3:3*i+3], c.channel(), encodeInvalidations([]store.Invalidation{inv}))
		calls[i] = scriptCall{keys: keys[i : i+1], args: a}
	}
	return calls
}

// del deletes keys in one round trip: one DEL, or on a cluster a pipeline
// of one DEL per key, since a DEL may not span slots.
func (c *Cache) del(ctx context.Context, keys []string) error {
	if !c.cluster {
		return c.rdb.Del(ctx, keys...).Err()
	}
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	return err
}

// setNewer sets each key to its value with its TTL in milliseconds, args
// holding (value, ttl, replace) triples, unless the key holds an entry of a
// version that is not older (setNewerScript). Keys past the entries' are
// fill leases to delete. Under PlainDelete it sets unconditionally.
func (c *Cache) setNewer(ctx context.Context, keys []string, args []any) error {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	return c.guard(func() error {
		switch {
		case c.opt.Strategy == PlainDelete:
			return c.setAll(ctx, keys, args)
		case c.cluster:
			_, err := evalEach(ctx, c.rdb, setNewerScript, perDocument(keys, args, 3))
			return err
		}
		return setNewerScript.Run(ctx, c.rdb, keys, args...).Err()
	})
}

// perDocument splits a batch script call into one call per document, so
// that each call's keys share the document's slot. keys holds the n
// documents' keys, then optionally their leases' keys; args holds per
// document argsPer values.
func perDocument(keys []string, args []any, argsPer int) []scriptCall {
	n := len(args) / argsPer
	calls := make([]scriptCall, n)
	for i := range calls {
		calls[i] = scriptCall{keys: []string{keys[i]}, args: args[argsPer*i : argsPer*(i+1)]}
		if n+i < len(keys) {
			calls[i].keys = append(calls[i].keys, keys[n+i])
		}
	}
	return calls
}

func (c *Cache) setAll(ctx context.Context, keys []string, args []any) error {
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range len(args) / 3 {
			p.Set(ctx, keys[i], args[3*i], time.Duration(args[3*i+1].(int64))*time.Millisecond)
		}
		return nil
	})
	return err
}

// setNewerScript is the conditional set of Put and Invalidate, for a whole
// batch in one round trip; it also deletes the fill leases passed after the
// entries' keys. An entry's rank is its version, 0 for a negative
// entry, and -1 for no entry or one that does not parse (GET on a key of
// another type fails, and counts as -1 too, so SET replaces it). A new value
// replaces the current one when its rank is higher, when it is a document
// of the very version a marker announced, or when the current one is
// byte for byte the undecodable entry the reader asked to replace.
//
// ARGV holds a (value, ttl, replace) triple per entry, and, for an
// invalidation, two more: a channel and a message, published once every
// entry is set, so that a subscriber never hears of an invalidation before
// Redis holds its marker.
var setNewerScript = redis.NewScript(`
local function rank(s)
  if type(s) ~= 'string' then return -1, '' end
  local tag, v = string.match(s, '^([dnt]):(%d*)')
  if not tag then return -1, '' end
  if tag == 'n' then return 0, tag end
  return tonumber(v) or -1, tag
end
local n, set = math.floor(#ARGV / 3), 0
for i = 1, n do
  local key, val, ttl, replace = KEYS[i], ARGV[3*i-2], ARGV[3*i-1], ARGV[3*i]
  local cur = redis.pcall('GET', key)
  local nr, ntag = rank(val)
  local cr, ctag = rank(cur)
  if nr > cr or (nr == cr and ctag == 't' and ntag == 'd') or (replace ~= '' and cur == replace) then
    redis.call('SET', key, val, 'PX', ttl)
    set = set + 1
  end
  if KEYS[n+i] then redis.call('DEL', KEYS[n+i]) end
end
if #ARGV % 3 == 2 then redis.call('PUBLISH', ARGV[#ARGV-1], ARGV[#ARGV]) end
return set
`)
