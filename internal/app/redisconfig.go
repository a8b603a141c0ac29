package app

import (
	"errors"
	"fmt"

	"catalog-bff/store/redisstore"
)

// defaultRedisURL is REDIS_URL's default: the local Redis.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

// useClusterAddrs makes REDIS_CLUSTER_ADDRS, when set, the Redis to use, as
// the equivalent redis+cluster URL. Setting REDIS_URL as well is an error:
// one of the two would be ignored.
func (c *Config) useClusterAddrs() error {
	if c.clusterAddrs == "" {
		return nil
	}
	if c.redisURL != defaultRedisURL {
		return errors.New("REDIS_URL and REDIS_CLUSTER_ADDRS are both set; set one")
	}
	u, err := redisstore.ClusterURL(c.clusterAddrs)
	if err != nil {
		return fmt.Errorf("REDIS_CLUSTER_ADDRS: %w", err)
	}
	c.redisURL = u
	return nil
}

// accessLogDefault settles ACCESS_LOG_SAMPLE when it is not set: every
// request is logged in development, where a person reads the lines; in
// production a line per request is a write system call per request that
// nobody reads, so 1 in 100, besides every failed or slow request.
func (c *Config) accessLogDefault() {
	switch {
	case c.accessSample >= 0:
	case c.production:
		c.accessSample = 0.01
	default:
		c.accessSample = 1
	}
}
