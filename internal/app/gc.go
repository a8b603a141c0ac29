package app

import (
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// gcPercent is the garbage collector's GOGC when the environment sets
// none. The hot path allocates about 70 small objects a cached page while
// its live heap is small (the near and response caches of a hot set, tens
// of MB), so at Go's default of 100 a busy instance collects several
// times a second, and each cycle's marking takes a share of the CPU that
// requests queue behind: at half the closed-loop maximum, the p99 of a
// cached page was 31–47 ms at GOGC=100 and 7–16 ms at 400 (3 runs each,
// docs/BENCHMARKS.md). The price is a heap up to 5 times the live one;
// GOMEMLIMIT, or the container's memory limit, bounds it (tuneGC).
const gcPercent = 400

// tuneGC sets GOGC to gcPercent unless the environment sets it, and a
// soft memory limit of 90 % of the container's (cgroup) memory limit
// unless GOMEMLIMIT is set, so that the larger GOGC never pushes the
// process past its limit: near it, Go collects sooner. It logs what the
// collector runs with.
func tuneGC(getenv func(string) string, log *slog.Logger) {
	gogc := getenv("GOGC")
	if gogc == "" {
		debug.SetGCPercent(gcPercent)
		gogc = strconv.Itoa(gcPercent)
	}
	limit, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup), memlimit.WithRatio(0.9))
	if err != nil {
		log.Warn("could not read the container's memory limit; GOMEMLIMIT bounds the heap", "err", err)
	}
	memLimit := "none"
	if limit > 0 && limit < math.MaxInt64 {
		memLimit = strconv.FormatInt(limit, 10)
	}
	log.Info("garbage collector", "GOGC", gogc, "GOMEMLIMIT", memLimit)
}
