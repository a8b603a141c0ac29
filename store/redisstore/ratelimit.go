package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RateLimiter is a token bucket per client, kept in Redis so that every
// instance of the service draws from the same bucket. A client may spend
// Burst tokens at once, and gets Rate tokens back per second.
//
// It fails open: when Redis does not answer, Allow says yes. The limiter
// keeps bots from inflating counts at will; it must never stop the page of
// a real visitor from counting its view because Redis is away.
//
// The Allow calls of concurrent callers are coalesced (see Coalescer): one
// pipeline of one script run per call, in the order they queued, so that
// each caller takes its own token exactly as if it had called alone.
type RateLimiter struct {
	rdb   redis.UniversalClient
	opt   RateLimitOptions
	calls *Coalescer[string, allowed]
}

// allowed is one Allow's answer.
type allowed struct {
	ok  bool
	err error
}

// RateLimitOptions configures a RateLimiter.
type RateLimitOptions struct {
	Prefix  string        // of the buckets' keys
	Rate    float64       // tokens per second
	Burst   int           // bucket size
	Timeout time.Duration // of each call; default 50ms
	// NoCoalesce makes each Allow a round trip of its own.
	NoCoalesce bool
}

// NewRateLimiter returns a limiter over rdb.
func NewRateLimiter(rdb redis.UniversalClient, opt RateLimitOptions) *RateLimiter {
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	if opt.Burst <= 0 {
		opt.Burst = 1
	}
	l := &RateLimiter{rdb: rdb, opt: opt}
	l.calls = NewCoalescer(CoalesceOptions{Timeout: opt.Timeout}, l.allowMany)
	return l
}

// Allow takes one token from client's bucket, in one round trip, and
// reports whether there was one. On a Redis error it reports true, with the
// error.
func (l *RateLimiter) Allow(ctx context.Context, client string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opt.Timeout)
	defer cancel()
	a := l.allow(ctx, client)
	if a.err != nil {
		return true, fmt.Errorf("store: rate limit: %w", a.err)
	}
	return a.ok, nil
}

func (l *RateLimiter) allow(ctx context.Context, client string) allowed {
	if l.opt.NoCoalesce {
		as, _ := l.allowMany(ctx, []string{client})
		return as[0]
	}
	a, err := l.calls.Do(ctx, client)
	if err != nil {
		return allowed{ok: true, err: err}
	}
	return a
}

// allowMany takes one token for each of clients, in order, in one
// pipeline, and returns each answer. It never fails as a whole: a client
// whose script failed is allowed, with its error.
func (l *RateLimiter) allowMany(ctx context.Context, clients []string) ([]allowed, error) {
	calls := make([]scriptCall, len(clients))
	for i, c := range clients {
		calls[i] = scriptCall{keys: []string{l.opt.Prefix + "{rl:" + c + "}"}, args: []any{l.opt.Rate, l.opt.Burst}}
	}
	cmds, _ := evalEach(ctx, l.rdb, tokenBucket, calls)
	out := make([]allowed, len(cmds))
	for i, cmd := range cmds {
		n, err := cmd.Int()
		out[i] = allowed{ok: err != nil || n == 1, err: err}
	}
	return out, nil
}

// tokenBucket: KEYS[1] is the bucket, a hash of tokens and the time they
// were counted; ARGV is the rate per second and the burst. The server's
// clock is the only clock, so instances need not agree on time. The key
// expires once a full bucket would have refilled.
var tokenBucket = redis.NewScript(tokenBucketSrc)

const tokenBucketSrc = `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / math.max(rate, 0.001) * 1000) + 1000)
return ok
`
