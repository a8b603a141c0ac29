package app

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/redis/go-redis/v9"

	"catalog-bff/internal/telemetry"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// The debug endpoints, for benchmarks and profiling:
//
//	GET /debug/costs   {"sqlStatements":N,"redisRoundTrips":N,"requests":N,"redisCommands":{…}}
//	    /debug/pprof/  net/http/pprof
//
// They are on by default and off in production (CATALOG_ENV=production or
// -env production); DEBUG_ENDPOINTS=on|off overrides both. The counters only grow: a client
// takes the difference of two reads. sqlStatements and redisRoundTrips
// count everything the process sent, background work (view flushes,
// invalidations) included; requests counts the HTTP requests served outside
// /debug/.

// debugOn reports whether the debug endpoints are served: as set, or else
// everywhere but in production.
func (c Config) debugOn() bool {
	if c.debugEndpoints != "" {
		return c.debugEndpoints == "on"
	}
	return !c.production
}

func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "yes":
		return true, nil
	case "off", "no":
		return false, nil
	}
	return strconv.ParseBool(s)
}

// costs counts what the process spends, for GET /debug/costs.
type costs struct {
	db       *sqlstore.DB
	rdb      redis.UniversalClient    // nil without Redis
	redis    *redisstore.RedisCounter // nil without Redis
	requests atomic.Int64
}

// newCosts returns the counters behind /debug/costs, or nil when the debug
// endpoints are off. counter is rdb's round-trip counter, the one that also
// feeds the metrics and extensions.cost; nil without Redis.
func newCosts(c Config, db *sqlstore.DB, rdb redis.UniversalClient, counter *redisstore.RedisCounter) *costs {
	if !c.debugOn() {
		return nil
	}
	return &costs{db: db, rdb: rdb, redis: counter}
}

// wrap serves the debug endpoints under /debug/ and counts every other
// request on its way to h. On a nil *costs it returns h as it is.
func (k *costs) wrap(h http.Handler) http.Handler {
	if k == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/costs", k.serveCosts)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	return mux
}

func (k *costs) serveCosts(w http.ResponseWriter, _ *http.Request) {
	out := telemetry.ProcessCosts{SQLStatements: k.db.Statements(), Requests: k.requests.Load(),
		RedisCommands: map[string]int64{}, CPUNs: cpuTime()}
	st := k.db.SQL().Stats()
	out.SQLPool = telemetry.PoolCounts{Waits: st.WaitCount, WaitNs: int64(st.WaitDuration), Closed: st.MaxIdleClosed,
		Connections: int64(st.OpenConnections)}
	if k.rdb != nil {
		p := k.rdb.PoolStats()
		out.RedisPool = telemetry.PoolCounts{Waits: int64(p.WaitCount), WaitNs: p.WaitDurationNs, Timeouts: int64(p.Timeouts),
			Connections: int64(p.TotalConns)}
	}
	if k.redis != nil {
		s := k.redis.Stats()
		out.RedisRoundTrips, out.RedisCommands = s.RoundTrips, s.Commands
		if out.RedisCommands == nil {
			out.RedisCommands = map[string]int64{}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// cpuTime returns the CPU time this process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
