package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"catalog-bff/store/redisstore"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
)

// InstrumentRedis adds counter to rdb as its hook, the one that counts
// round trips (redisstore.RedisCounter.Attach), and feeds the Redis metrics and
// the requests' costs from it; when tracing is on, it adds redisotel's span
// per command and pipeline (without their arguments, which hold whole
// documents). Call it before rdb is shared: go-redis hooks must not be
// added while commands run.
func (t *Telemetry) InstrumentRedis(rdb redis.UniversalClient, counter *redisstore.RedisCounter) error {
	counter.OnRoundTrip = t.m.redisRoundTrip
	counter.Attach(rdb)
	if !t.Tracing() {
		return nil
	}
	err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(t.opt.Tracer),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false))
	if err != nil {
		return fmt.Errorf("telemetry: trace redis: %w", err)
	}
	return nil
}

// redisRoundTrip times a round trip (a command alone, or a whole
// pipeline), counts its failures, and adds it to the request's cost.
func (m *metrics) redisRoundTrip(ctx context.Context, command string, start time.Time, err error) {
	m.redisDuration.WithLabelValues(command).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		m.redisErrors.WithLabelValues(command).Inc()
	}
	if mt := meterOf(ctx); mt != nil {
		mt.redis.Add(1)
	}
}
