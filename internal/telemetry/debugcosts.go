package telemetry

// ProcessCosts is the body of GET /debug/costs: what the process has spent
// since it started. The service serves it (debug.go) and the load
// generator reads it (bench/), so that a benchmark can divide by the
// requests it sent.
type ProcessCosts struct {
	SQLStatements   int64            `json:"sqlStatements"`
	RedisRoundTrips int64            `json:"redisRoundTrips"`
	Requests        int64            `json:"requests"`
	RedisCommands   map[string]int64 `json:"redisCommands"`
	// Pools: how often a request waited for a connection, and how long.
	SQLPool   PoolCounts `json:"sqlPool"`
	RedisPool PoolCounts `json:"redisPool"`
	// CPUNs is the CPU time the process has used, user and system: on a
	// shared machine, CPU per request is steadier than requests a second.
	CPUNs int64 `json:"cpuNs"`
}

// PoolCounts are a connection pool's counters.
type PoolCounts struct {
	Waits       int64 `json:"waits"`       // a caller waited for a connection
	WaitNs      int64 `json:"waitNs"`      // total time spent waiting
	Timeouts    int64 `json:"timeouts"`    // a wait gave up (Redis only)
	Closed      int64 `json:"closed"`      // connections closed for lack of idle room (SQL only)
	Connections int64 `json:"connections"` // open now
}

// Sub returns the counts p added since before; Connections stays p's.
func (p PoolCounts) Sub(before PoolCounts) PoolCounts {
	return PoolCounts{Waits: p.Waits - before.Waits, WaitNs: p.WaitNs - before.WaitNs,
		Timeouts: p.Timeouts - before.Timeouts, Closed: p.Closed - before.Closed, Connections: p.Connections}
}
