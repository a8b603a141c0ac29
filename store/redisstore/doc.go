// Package redisstore is everything the service keeps in Redis, on one node
// or a Redis Cluster: the versioned document cache (one MGET a batch,
// fills that never put back an older version, leases against stampedes,
// a circuit breaker), its invalidation stream, the view counter's log and
// scripts, the per-client rate limiter, and automatic persisted queries.
// Round trips are counted by one hook (RedisCounter). It knows nothing of
// SQL.
package redisstore
