package main

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"time"
)

// defaultMaxInflight is MAX_INFLIGHT unless set: 32 GraphQL requests at
// once per CPU. A page answered by the response or near cache costs under
// 100 µs of CPU, so the bound is there for pages that execute and miss: on
// 2 CPUs (go run ./bench -mode closed -connections 32 detail, 10,000
// products, caches warm) 16 in flight served 11,353 pages/s and 64 served
// 12,608, p99 11 ms either way. Before the near and response caches, past
// 16 in flight (then 1,058 pages/s) pages only waited longer for CPU, their
// Redis calls outlived REDIS_TIMEOUT and the breaker sent pages to SQL; the
// breaker no longer counts pool waits, and 32 per CPU keeps a miss storm to
// what the SQL pool and fallback bound can take.
func defaultMaxInflight() int { return 32 * runtime.GOMAXPROCS(0) }

// overloadWait is how long a request that finds MAX_INFLIGHT requests in
// flight waits for one of them to finish before it is refused: at
// capacity a place frees about every millisecond, so a few milliseconds
// let through a burst that arrives in a momentary gap, while a spike is
// still refused in far less time than a page takes to serve.
const overloadWait = 5 * time.Millisecond

// parseOverload reads the bound of requests in flight (MAX_INFLIGHT).
func parseOverload(fs *flag.FlagSet, c *config, env func(key, def string) string) error {
	n, err := strconv.Atoi(env("MAX_INFLIGHT", strconv.Itoa(defaultMaxInflight())))
	if err != nil {
		return fmt.Errorf("MAX_INFLIGHT: %w", err)
	}
	fs.IntVar(&c.maxInflight, "max-inflight", n,
		"GraphQL requests worked on at once; past it 503 OVERLOADED; 0 for no bound (MAX_INFLIGHT)")
	return nil
}
