package redisstore

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EvictionPolicy returns Redis's maxmemory-policy; on a cluster, the first
// master's that evicts keys without a TTL, or else any master's. It asks
// CONFIG GET, and where CONFIG is renamed or disabled, INFO memory.
func EvictionPolicy(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return policyOf(ctx, rdb)
	}
	var (
		mu    sync.Mutex
		worst string
	)
	err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		p, err := policyOf(ctx, node)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && (worst == "" || EvictsAnyKey(p)) {
			worst = p
		}
		return err
	})
	return worst, err
}

// EvictsAnyKey reports whether a maxmemory-policy lets Redis evict keys
// that have no TTL, such as the view counter's queue: the allkeys-
// policies. noeviction and the volatile- policies never do.
func EvictsAnyKey(policy string) bool { return strings.HasPrefix(policy, "allkeys-") }

func policyOf(ctx context.Context, rdb redis.Cmdable) (string, error) {
	if kv, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result(); err == nil && kv["maxmemory-policy"] != "" {
		return kv["maxmemory-policy"], nil
	}
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return "", fmt.Errorf("store: maxmemory-policy: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "maxmemory_policy:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("store: maxmemory-policy: not in INFO memory")
}
