package store

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
type PersistedQueries struct {
	rdb redis.UniversalClient
	opt PersistedQueryOptions
}

// PersistedQueryOptions configures PersistedQueries. Zero fields take the
// defaults.
type PersistedQueryOptions struct {
	Prefix  string        // default "catalog:apq:v1:"
	TTL     time.Duration // default 24h
	Timeout time.Duration // deadline of each call, default 50ms
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
	return &PersistedQueries{rdb: rdb, opt: opt}
}

// Get returns the query stored under hash, in one round trip. ok is false
// when there is none or Redis failed.
func (p *PersistedQueries) Get(ctx context.Context, hash string) (query string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	query, err := p.rdb.Get(ctx, p.opt.Prefix+hash).Result()
	return query, err == nil
}

// Add stores query under hash for TTL, in one round trip. A failure is
// dropped: the query is sent again next time. The caller checks that hash
// is the query's.
func (p *PersistedQueries) Add(ctx context.Context, hash, query string) {
	ctx, cancel := context.WithTimeout(ctx, p.opt.Timeout)
	defer cancel()
	p.rdb.Set(ctx, p.opt.Prefix+hash, query, p.opt.TTL)
}
