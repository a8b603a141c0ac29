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
	return nil
}
