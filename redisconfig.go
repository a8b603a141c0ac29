package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"catalog-bff/store"
)

// defaultRedisURL is REDIS_URL's default: the local Redis.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

// useClusterAddrs makes REDIS_CLUSTER_ADDRS, when set, the Redis to use, as
// the equivalent redis+cluster URL. Setting REDIS_URL as well is an error:
// one of the two would be ignored.
func (c *config) useClusterAddrs() error {
	if c.clusterAddrs == "" {
		return nil
	}
	if c.redisURL != defaultRedisURL {
		return errors.New("REDIS_URL and REDIS_CLUSTER_ADDRS are both set; set one")
	}
	u, err := store.ClusterURL(c.clusterAddrs)
	if err != nil {
		return fmt.Errorf("REDIS_CLUSTER_ADDRS: %w", err)
	}
	c.redisURL = u
	return nil
}

// parseNearConfig reads the near cache's settings.
func parseNearConfig(fs *flag.FlagSet, env func(key, def string) string, c *config) error {
	n, err := strconv.Atoi(env("NEAR_CACHE_SIZE", "100000"))
	if err != nil {
		return fmt.Errorf("NEAR_CACHE_SIZE: %w", err)
	}
	fs.IntVar(&c.nearSize, "near-cache-size", n,
		"documents each instance keeps decoded in process, 0 for no near cache (NEAR_CACHE_SIZE)")
	b, err := strconv.ParseInt(env("NEAR_CACHE_MAX_BYTES", "67108864"), 10, 64)
	if err != nil {
		return fmt.Errorf("NEAR_CACHE_MAX_BYTES: %w", err)
	}
	fs.Int64Var(&c.nearBytes, "near-cache-max-bytes", b,
		"bytes of encoded documents the near cache may hold (NEAR_CACHE_MAX_BYTES)")
	d, err := time.ParseDuration(env("NEAR_CACHE_MAX_STALENESS", "5s"))
	if err != nil {
		return fmt.Errorf("NEAR_CACHE_MAX_STALENESS: %w", err)
	}
	fs.DurationVar(&c.nearStale, "near-cache-max-staleness", d,
		"the most a near-cache entry lives, invalidated or not (NEAR_CACHE_MAX_STALENESS)")
	// Unset (-1), it depends on the mode (accessLogDefault).
	f, err := strconv.ParseFloat(env("ACCESS_LOG_SAMPLE", "-1"), 64)
	if err != nil || f > 1 {
		return fmt.Errorf("ACCESS_LOG_SAMPLE: want a fraction from 0 to 1, got %q", env("ACCESS_LOG_SAMPLE", ""))
	}
	fs.Float64Var(&c.accessSample, "access-log-sample", f,
		"fraction of successful requests logged, failed and slow ones always are; default 1, 0.01 in production (ACCESS_LOG_SAMPLE)")
	return nil
}

// accessLogDefault settles ACCESS_LOG_SAMPLE when it is not set: every
// request is logged in development, where a person reads the lines; in
// production a line per request is a write system call per request that
// nobody reads, so 1 in 100, besides every failed or slow request.
func (c *config) accessLogDefault() {
	switch {
	case c.accessSample >= 0:
	case c.production:
		c.accessSample = 0.01
	default:
		c.accessSample = 1
	}
}
