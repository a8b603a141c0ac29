package store

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
type RateLimiter struct {
	rdb redis.UniversalClient
	opt RateLimitOptions
}

// RateLimitOptions configures a RateLimiter.
type RateLimitOptions struct {
	Prefix  string        // of the buckets' keys
	Rate    float64       // tokens per second
	Burst   int           // bucket size
	Timeout time.Duration // of each call; default 50ms
}

// NewRateLimiter returns a limiter over rdb.
func NewRateLimiter(rdb redis.UniversalClient, opt RateLimitOptions) *RateLimiter {
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	if opt.Burst <= 0 {
		opt.Burst = 1
	}
	return &RateLimiter{rdb: rdb, opt: opt}
}

// Allow takes one token from client's bucket, in one round trip, and
// reports whether there was one. On a Redis error it reports true, with the
// error.
func (l *RateLimiter) Allow(ctx context.Context, client string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opt.Timeout)
	defer cancel()
	key := l.opt.Prefix + "{rl:" + client + "}"
	ok, err := tokenBucket.Run(ctx, l.rdb, []string{key}, l.opt.Rate, l.opt.Burst).Int()
	if err != nil {
		return true, fmt.Errorf("store: rate limit: %w", err)
	}
	return ok == 1, nil
}

// tokenBucket: KEYS[1] is the bucket, a hash of tokens and the time they
// were counted; ARGV is the rate per second and the burst. The server's
// clock is the only clock, so instances need not agree on time. The key
// expires once a full bucket would have refilled.
var tokenBucket = redis.NewScript(`
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
`)
