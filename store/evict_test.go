package store_test

import (
	"context"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/storetest"
)

// The eviction policy is read through CONFIG GET, and through INFO memory
// where CONFIG is disabled; only the allkeys- policies evict keys without
// a TTL.
func TestEvictionPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		policy string
		evicts bool
	}{
		{"allkeys-lru", []string{"--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru"}, "allkeys-lru", true},
		{"volatile-lru", []string{"--maxmemory-policy", "volatile-lru"}, "volatile-lru", false},
		{"noeviction, CONFIG disabled", []string{"--rename-command", "CONFIG", `""`}, "noeviction", false},
		{"allkeys-lfu, CONFIG disabled", []string{"--maxmemory-policy", "allkeys-lfu", "--rename-command", "CONFIG", `""`}, "allkeys-lfu", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, err := store.NewRedis(storetest.StartRedis(t, tc.args...), store.RedisOptions{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			p, err := store.EvictionPolicy(context.Background(), rdb)
			if err != nil || p != tc.policy || store.EvictsAnyKey(p) != tc.evicts {
				t.Errorf("policy %q (%v), evicts %v; want %q, %v", p, err, store.EvictsAnyKey(p), tc.policy, tc.evicts)
			}
		})
	}
}
