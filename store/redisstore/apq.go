package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// PersistedQueries stores the query texts of automatic persisted queries
// in Redis, under prefix + sha256 hash, for TTL. A client that sent a query
// once can then send only its hash.
//
// Get and Add never fail: each call has a short deadline, and a Redis that
// errs or does not answer in time makes Get a miss and Add a no-op. A miss
// costs the client one more round trip with the full query, never an
// error. It is safe for concurrent use.
//
// The Get calls of concurrent callers are coalesced (see Coalescer): one
// pipeline of one GET per call.
type PersistedQueries struct {
	rdb  redis.UniversalClient
	opt  PersistedQueryOptions
	gets *Coalescer[string, *string]
}

// PersistedQueryOptions configures PersistedQueries. Zero fields take the
// defaults.
type PersistedQueryOptions struct {
	Prefix  string        // default "catalog:apq:v1:"
	TTL     time.Duration // default 24h
	Timeout time.Duration // deadline of each call, default 50ms
	// NoCoalesce makes each Get a round trip of its own.
	NoCoalesce bool
}

// NewPersistedQueries returns a query store over rdb.
func NewPersistedQueries(rdb redis.UniversalClient, opt PersistedQueryOptions) *PersistedQueries {
	if opt.Prefix == "" {
		opt.Prefix = "catalog:apq:v1:"
	}
	if opt.TTL <= 0 {
		opt.TTL = 24 * time.Hour
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	p := &PersistedQueries{rdb: rdb, opt: opt}
	p.gets = NewCoalescer(CoalesceOptions{Timeout: opt.Timeout}, p.getMany)
	return p
}

// Get returns the query stored under hash, in one round trip. ok is false
// when there is none or Redis failed.
func (p *PersistedQueries) Get(ctx context.Context, hash string) (query string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	if p.opt.NoCoalesce {
		query, err := p.rdb.Get(ctx, p.opt.Prefix+hash).Result()
		return query, err == nil
	}
	q, err := p.gets.Do(ctx, hash)
	if err != nil || q == nil {
		return "", false
	}
	return *q, true
}

// getMany reads the queries of hashes in one pipeline: nil for a miss, or
// for any hash when a GET failed.
func (p *PersistedQueries) getMany(ctx context.Context, hashes []string) ([]*string, error) {
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = p.opt.Prefix + h
	}
	vals, err := getEach(ctx, p.rdb, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*string, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = &s
		}
	}
	return out, nil
}

// Add stores query under hash for TTL, in one round trip. A failure is
// dropped: the query is sent again next time. The caller checks that hash
// is the query's.
func (p *PersistedQueries) Add(ctx context.Context, hash, query string) {
	ctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	p.rdb.Set(ctx, p.opt.Prefix+hash, query, p.opt.TTL)
}
