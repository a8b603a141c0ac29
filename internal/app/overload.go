package app

import (
	"runtime"
	"time"
)

// defaultMaxInflight is MAX_INFLIGHT unless set: 8 GraphQL requests at once
// per CPU. The bound is for pages that miss and execute: measured on 2 CPUs
// before the near and response caches (go run ./bench -mode closed detail,
// 10,000 products), product pages a second by requests in flight: 4 → 570,
// 8 → 881, 16 → 1,058 (p99 37 ms), 32 → 642 (p99 254 ms): past 16 the
// pages only wait longer, for CPU, until their Redis calls outlive
// REDIS_TIMEOUT, the circuit breaker opens and every page is read from SQL.
// Pages the caches answer cost under 100 µs of CPU and lose little to it:
// with the caches warm, a closed loop of 32 connections served 11,353
// pages/s at 16 in flight and 12,608 at 64, p99 11 ms either way, with no
// refusal (a request waits up to overloadWait for a place).
func defaultMaxInflight() int { return 8 * runtime.GOMAXPROCS(0) }

// A request that finds MAX_INFLIGHT requests in flight waits for a place
// in a queue of overloadQueue per place, for at most overloadWait; past
// the queue it is refused at once. A client that keeps more requests in
// flight than there are places (a closed loop of 32 connections against 16
// places, pages of 20 ms) then waits a page or two instead of being
// refused, while a spike fills the queue in milliseconds and what is
// beyond it is refused without waiting.
const (
	overloadQueue = 4
	overloadWait  = 100 * time.Millisecond
)
